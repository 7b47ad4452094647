"""The comparison make bench prints and writes: medians of the runs per
label and target, the ratio relay/peer, and the issues' targets; as text,
as JSON (bench/results/latest.json) and as the Markdown block of
bench/README.md (`python3 bench/driver/summary.py`)."""
import datetime
import os
import platform
import statistics
import subprocess

METRICS = [("msgs_per_s", "msgs/s", "{:.0f}"), ("p50_us", "p50_us", "{:.0f}"), ("p90_us", "p90_us", "{:.0f}"),
           ("p99_us", "p99_us", "{:.0f}"), ("p999_us", "p99.9_us", "{:.0f}"), ("max_us", "max_us", "{:.0f}"),
           ("registrations_per_s", "regs/s", "{:.0f}"), ("rss_per_conn_bytes", "rss/conn", "{:.0f}")]
# What the target spent, read by reflector-bench from /proc/PID over the
# measured window (syscalls: from the counters the target logs at exit).
COST = [("cpu_us_per_envelope", "cpu_us/msg", "{:.2f}"), ("cpu_us_per_registration", "cpu_us/reg", "{:.0f}"),
        ("ctxsw_per_envelope", "csw/msg", "{:.4f}"), ("syscalls_per_envelope", "sys/msg", "{:.4f}"),
        ("cpu_cores", "cores", "{:.2f}"), ("rss_mib", "rss_MiB", "{:.1f}")]
EXTRA = ["quiet_p99_us", "quiet_msgs_per_s", "rate", "rss_avg_conn_bytes"]
ALL = METRICS + COST
VERDICT = {True: "met", False: "MISSED", None: "not measured"}
MD_VERDICT = {True: "met", False: "**missed**", None: "not measured"}
# relay: the relay as --io auto chose (io_uring where the kernel allows it);
# epoll: the same relay with --io epoll; peer: the Node baseline.
TARGETS = ("relay", "epoll", "peer")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def machine():
    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem = next(line.split()[1] for line in open("/proc/meminfo") if line.startswith("MemTotal"))
        load = open("/proc/loadavg").read().split()[:3]
    except (OSError, StopIteration):
        mem, load = "0", []
    return {"cpu": cpu, "cpus": os.cpu_count(), "mem_gib": round(int(mem) / 2**20, 1),
            "kernel": platform.release(), "load_before": " ".join(load)}


def commit():
    try:
        r = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                           timeout=10)
        return r.stdout.strip() or None
    except OSError:
        return None


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarize(results, mach, ecdh, cpus, plan, runs, elapsed):
    """plan: label -> {"bench": its arguments, "target": the target's flags}."""
    for r in results:
        r["rss_mib"] = r["rss_kib"] / 1024 if r.get("rss_kib") is not None else None
    medians, ratios, epoll_ratios = {}, {}, {}
    for label in plan:
        medians[label] = {}
        for t in TARGETS:
            rows = [r for r in results if r["label"] == label and r["target"] == t]
            if not rows:
                continue
            m = {k: median([r.get(k) for r in rows]) for k, _, _ in ALL}
            m.update({k: median([r.get(k) for r in rows]) for k in EXTRA})
            errors = {}
            for r in rows:
                for code, n in r.get("errors", {}).items():
                    errors[code] = errors.get(code, 0) + n
            m["errors"] = errors
            m["runs"] = len(rows)
            medians[label][t] = m
        rel, peer = medians[label].get("relay"), medians[label].get("peer")
        if rel and peer:
            ratios[label] = {k: rel[k] / peer[k] for k, _, _ in ALL + [(x, x, "") for x in EXTRA]
                             if rel.get(k) and peer.get(k)}
        ep = medians[label].get("epoll")
        if rel and ep:
            epoll_ratios[label] = {k: ep[k] / rel[k] for k, _, _ in ALL if rel.get(k) and ep.get(k)}
    return {
        "generated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "commit": commit(),
        "machine": mach,
        "node": subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip(),
        "elapsed_s": round(elapsed),
        "runs": runs,
        "scenarios": plan,
        "ecdh_per_s_one_thread": ecdh,
        "medians": medians,
        "ratio_relay_over_peer": ratios,
        "ratio_epoll_over_relay": epoll_ratios,
        "targets": targets(medians, ratios, ecdh, cpus),
        "results": results,
    }


def targets(medians, ratios, ecdh, cpus):
    def get(label, t, k):
        return medians.get(label, {}).get(t, {}).get(k)
    out = []

    def add(name, value, goal, met, unit=""):
        # met: None when the figure was not measured (e.g. a counter the target does not log)
        out.append({"target": name, "value": value, "goal": goal, "met": met if value is not None else None,
                    "unit": unit})
    r = ratios.get("route", {}).get("msgs_per_s")
    add("route: relay/peer envelopes per second, 256-byte boxes", r, ">= 15", r is not None and r >= 15, "x")
    p99 = get("route-half", "relay", "p99_us")
    add(f"route: relay p99 at half its peak ({get('route-half', 'relay', 'rate') or 0:.0f}/s)", p99, "<= 1000",
        p99 is not None and p99 <= 1000, "us")
    rss = get("idle", "relay", "rss_per_conn_bytes")
    add("idle: relay RSS per registered connection", rss, "<= 1536", rss is not None and rss <= 1536, "bytes")
    regs = get("register", "relay", "registrations_per_s")
    goal = 0.9 * cpus * ecdh if ecdh else None
    add(f"register: relay registrations/s vs 0.9 x {cpus} crypto threads x {ecdh or 0:.0f} ECDH/s", regs,
        f">= {goal:.0f}" if goal else "?", regs is not None and goal is not None and regs >= goal, "/s")
    storm, quiet = get("mixed", "relay", "p99_us"), get("mixed", "relay", "quiet_p99_us")
    ratio = storm / quiet if storm and quiet else None
    add("mixed: relay routing p99 during the storm / without", ratio, "<= 2", ratio is not None and ratio <= 2, "x")
    for label, box, goal in (("1shard-64B", "64 B", 2.0), ("1shard-256B", "256 B", 3.0), ("1shard-4KiB", "4 KiB", 40)):
        v = get(label, "relay", "cpu_us_per_envelope")
        add(f"{label}: relay CPU per envelope, 1 shard, {box} boxes", v, f"<= {goal:g}", v is not None and v <= goal,
            "us")
    # The epoll backend: within 1.5x of io_uring's CPU per envelope, and
    # still ahead of the peer.
    for label, box in (("1shard-64B", "64 B"), ("1shard-256B", "256 B"), ("1shard-4KiB", "4 KiB")):
        ep, rel, peer = (get(label, t, "cpu_us_per_envelope") for t in ("epoll", "relay", "peer"))
        r = ep / rel if ep and rel else None
        add(f"{label}: epoll/io_uring CPU per envelope, 1 shard, {box} boxes", r, "<= 1.5", r is not None and r <= 1.5,
            "x")
        r = peer / ep if ep and peer else None
        add(f"{label}: peer/epoll CPU per envelope, 1 shard, {box} boxes", r, "> 1", r is not None and r > 1, "x")
    ep, rel = get("idle", "epoll", "rss_per_conn_bytes"), get("idle", "relay", "rss_per_conn_bytes")
    add("idle: epoll RSS per registered connection", ep, "<= 1536", ep is not None and ep <= 1536, "bytes")
    for key, name, goal in (("syscalls_per_envelope", "syscalls", 0.02), ("ctxsw_per_envelope", "context switches",
                                                                          0.005)):
        v = get("cross-16", "relay", key)
        add(f"cross-16: relay {name} per envelope, 16 shards, every envelope crossing", v, f"<= {goal:g}",
            v is not None and v <= goal, "")
    return out


def fmt(v, f):
    return "-" if v is None else f.format(v)


def print_table(rep, metrics, title):
    print(title)
    print(f"{'label':<12}{'target':<7}" + "".join(f"{h:>11}" for _, h, _ in metrics) + "  errors")
    for label, by_target in rep["medians"].items():
        for t in TARGETS:
            m = by_target.get(t)
            if not m:
                continue
            errs = ",".join(f"{k}={v}" for k, v in m["errors"].items()) or "0"
            print(f"{label:<12}{t:<7}" + "".join(f"{fmt(m[k], f):>11}" for k, _, f in metrics) + f"  {errs}")
        ratio = rep["ratio_relay_over_peer"].get(label)
        if ratio:
            print(f"{label:<12}{'ratio':<7}" + "".join(f"{fmt(ratio.get(k), '{:.2f}'):>11}" for k, _, _ in metrics))
        ratio = rep.get("ratio_epoll_over_relay", {}).get(label)
        if ratio:
            print(f"{label:<12}{'ep/rel':<7}" + "".join(f"{fmt(ratio.get(k), '{:.2f}'):>11}" for k, _, _ in metrics))


def print_report(rep):
    print()
    print(f"make bench: medians of {rep['runs']} runs, {rep['machine']['cpu']} x{rep['machine']['cpus']}, "
          f"load {rep['machine']['load_before']} before, {rep['machine'].get('load_after', '?')} after")
    print_table(rep, METRICS, "speed:")
    print_table(rep, COST, "the target's cost (CPU us, context switches, syscalls per envelope or registration):")
    for label in ("route-half", "mixed"):
        for t in ("relay", "peer"):
            m = rep["medians"].get(label, {}).get(t)
            if m and label == "route-half":
                print(f"route-half {t}: open loop at {fmt(m['rate'], '{:.0f}')}/s, half of its own route peak")
            if m and label == "mixed":
                print(f"mixed {t}: routing at {fmt(m['rate'], '{:.0f}')}/s, p99 {fmt(m['quiet_p99_us'], '{:.0f}')} us "
                      f"without the storm, {fmt(m['p99_us'], '{:.0f}')} us during it "
                      f"({fmt(m['registrations_per_s'], '{:.0f}')} registrations/s)")
    print("targets (relay, on this machine with the load generator beside it):")
    for t in rep["targets"]:
        print(f"  {VERDICT[t['met']]:<12} {t['target']}: {fmt(t['value'], '{:.4g}')}{t['unit']} "
              f"(goal {t['goal']}{t['unit']})")


def markdown_table(rep, metrics):
    cols = [h for _, h, _ in metrics]
    out = ["| label | target | " + " | ".join(cols) + " | errors |",
           "| --- | --- | " + " | ".join("---:" for _ in cols) + " | --- |"]
    for label, by_target in rep["medians"].items():
        rows = []
        for t in TARGETS:
            x = by_target.get(t)
            if x:
                errs = ", ".join(f"{k} {v}" for k, v in x["errors"].items()) or "0"
                rows.append(f"| {label} | {t} | " + " | ".join(fmt(x[k], f) for k, _, f in metrics) + f" | {errs} |")
        r = rep["ratio_relay_over_peer"].get(label)
        if r:
            rows.append(f"| {label} | relay/peer | " + " | ".join(fmt(r.get(k), "{:.2f}") for k, _, _ in metrics)
                        + " | |")
        r = rep.get("ratio_epoll_over_relay", {}).get(label)
        if r:
            rows.append(f"| {label} | epoll/relay | " + " | ".join(fmt(r.get(k), "{:.2f}") for k, _, _ in metrics)
                        + " | |")
        if any(any(fmt(by_target.get(t, {}).get(k), f) != "-" for k, _, f in metrics) for t in TARGETS):
            out += rows
    return out


def markdown(rep):
    """The results block of bench/README.md, from a latest.json."""
    m = rep["machine"]
    out = [f"`make bench` at {rep['commit'] or '?'} on {rep['generated'][:10]}: {m['cpu']}, {m['cpus']} cores, "
           f"{m['mem_gib']} GiB, Linux {m['kernel']}, {rep['node']}; load average {m['load_before']} before, "
           f"{m.get('load_after', '?')} after; medians of {rep['runs']} runs (idle: 1), {rep['elapsed_s']} s.", ""]
    out += markdown_table(rep, METRICS)
    out += ["", "The target's cost over the measured window:", ""]
    out += markdown_table(rep, COST)
    out.append("")
    for t in rep["targets"]:
        out.append(f"- {MD_VERDICT[t['met']]}: {t['target']}: {fmt(t['value'], '{:.4g}')} {t['unit']} "
                   f"(goal {t['goal']} {t['unit']})")
    return "\n".join(out)


if __name__ == "__main__":
    import json
    import sys
    print(markdown(json.load(open(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "bench", "results",
                                                                                        "latest.json")))))
