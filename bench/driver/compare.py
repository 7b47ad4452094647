#!/usr/bin/python3
"""make bench / make bench-quick: the relay against the Node peer.

Starts a fresh relay (build/reflector) or peer (bench/peer/reflector-peer)
on a loopback port for every scenario run, with the same flags, runs
build/reflector-bench against it (--pid: the target's CPU, context switches
and RSS), stops it, reads the counters it logs at exit (the relay's
`syscalls`, when it counts them), and alternates the order of the two
targets from run to run. Full: three runs of every entry of FULL but idle,
one of idle (10,000 registered connections: the peer alone needs about 70 s
to verify their proofs, and the RSS per connection varies by less than the
other figures); then the medians, the ratio relay/peer and the issues'
targets, printed and written to bench/results/latest.json, and the chart
beside it (latest.svg). The relay runs a second time on its epoll backend
(target "epoll", --io epoll) for the entries in EPOLL: CPU per envelope by
box size and idle RSS per connection, epoll against io_uring. Under 12
minutes on 2 cores.
--quick: one small run of each entry of QUICK against both, each required
to produce its figures with no error counted (the harness check CI runs),
in well under a minute; nothing is compared or asserted about speed.

Bounded: every child has a timeout, every target is stopped (SIGKILL after
10 s), and the runs are counted.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chart  # noqa: E402
import summary  # noqa: E402
from target import ROOT, Target, exit_counters  # noqa: E402

BENCH = os.path.join(ROOT, "build", "reflector-bench")
RELAY = os.path.join(ROOT, "build", "reflector")
KEY = os.path.join(ROOT, "build", "bench", "server.pem")
KEYS = os.path.join(ROOT, "build", "bench", "keys.txt")
CPUS = os.cpu_count() or 1

# Flags both targets get: every limit that would refuse benchmark traffic
# is lifted, nothing else changes. Info logging: the counters at exit.
TARGET_FLAGS = {"--threads": str(CPUS), "--crypto-threads": str(CPUS), "--key": KEY, "--rate": "1000000",
                "--register-timeout": "60", "--ping-interval": "120", "--log-level": "info",
                # Every bench client comes from one address.
                "--max-registrations-per-ip": "0", "--registration-rate-per-ip": "0"}
ONE_SHARD = {"--threads": "1"}
WINDOW = ["--duration", "4", "--warmup", "1"]


def route(size, *extra):
    return ["route", "--clients", "100", "--window", "16", "--size", str(size)] + list(extra) + WINDOW


# (label, reflector-bench arguments, target flags that differ from TARGET_FLAGS)
FULL = [
    ("route", route(256), {}),
    ("route-half", ["route", "--clients", "100", "--size", "256"] + WINDOW, {}),
    ("register", ["register", "--reg-inflight", "32"] + WINDOW, {}),
    ("mixed", ["mixed", "--clients", "100", "--size", "256", "--rate", "10000", "--reg-inflight", "32"] + WINDOW, {}),
    ("idle", ["idle", "--clients", "10000", "--duration", "3", "--setup-inflight", "256"], {}),
    # CPU per envelope by box size, one shard (the peer has one event loop anyway).
    ("1shard-64B", route(64), ONE_SHARD),
    ("1shard-256B", route(256), ONE_SHARD),
    ("1shard-4KiB", route(4096), dict(ONE_SHARD, **{"--max-message": "16384"})),
    # Every envelope crosses from one of 16 shards to another.
    ("cross-16", route(256, "--pattern", "cross", "--shards", "16"), {"--threads": "16"}),
    # The 2025 Simpatico dialect (relay only: the peer speaks v1 alone).
    ("route-2025", route(256, "--dialect", "2025"), {}),
    ("register-2025", ["register", "--dialect", "2025", "--reg-inflight", "32"] + WINDOW, {}),
]
ONCE = {"idle"}  # full runs: these in the first run only
RELAY_ONLY = {"route-2025", "register-2025"}  # the baseline peer speaks protocol v1 only
# The relay on its epoll backend too ("epoll"), for these: CPU per envelope
# by box size and idle RSS per connection, against io_uring ("relay").
EPOLL = {"idle", "1shard-64B", "1shard-256B", "1shard-4KiB", "route"}
QUICK_WINDOW = ["--duration", "1", "--warmup", "0.5"]
QUICK = [
    ("route", ["route", "--clients", "20", "--window", "8", "--size", "256"] + QUICK_WINDOW, {}),
    ("register", ["register", "--reg-inflight", "8"] + QUICK_WINDOW, {}),
    ("mixed", ["mixed", "--clients", "20", "--size", "256", "--rate", "2000", "--reg-inflight", "8"] + QUICK_WINDOW,
     {}),
    ("idle", ["idle", "--clients", "100", "--duration", "0.5"], {}),
    ("cross-2", ["route", "--clients", "20", "--window", "8", "--size", "256", "--pattern", "cross", "--shards", "2"]
     + QUICK_WINDOW, {"--threads": "2"}),
    ("route-2025", ["route", "--dialect", "2025", "--clients", "20", "--window", "8", "--size", "256"] + QUICK_WINDOW,
     {}),
    ("register-2025", ["register", "--dialect", "2025", "--reg-inflight", "8"] + QUICK_WINDOW, {}),
]


def target_flags(overrides):
    flags = dict(TARGET_FLAGS, **overrides)
    return [x for kv in flags.items() for x in kv]


def run_bench(target, args, strict):
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        cmd = [BENCH, "--url", f"ws://127.0.0.1:{target.port}/", "--keys", KEYS, "--target", target.name,
               "--json", out.name, "--pid", str(target.pid)] + args
        if strict:
            cmd.append("--strict")
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        sys.stderr.write(r.stderr)
        try:
            results = json.load(open(out.name))
        except (OSError, ValueError):
            results = []
    return r.returncode, r.stdout, results


def add_counters(results, counters):
    """The target's syscalls per envelope over its life (a fresh target per
    run: set-up and warm-up included), from the counters it logged; all of
    them are kept with the results, for reading a strange run afterwards."""
    counters = counters or {}
    sys_n, env_n = counters.get("syscalls"), counters.get("envelopes_delivered")
    for r in results:
        r["target_counters"] = counters
        r["syscalls"] = sys_n
        r["target_envelopes_delivered"] = env_n
        r["syscalls_per_envelope"] = sys_n / env_n if sys_n is not None and env_n else None


def one(label, target_name, args, flags, strict, run):
    began = time.monotonic()
    try:
        target = Target(target_name, flags)
    except RuntimeError as e:
        print(f"[run {run}] {label:<11} {target_name}: {e}", flush=True)
        return [], [str(e)]
    try:
        rc, table, results = run_bench(target, args, strict)
    finally:
        code = target.stop()
    counters = exit_counters(target.output())
    add_counters(results, counters)
    lines = table.strip().splitlines()
    row = lines[1] if len(lines) > 1 else "(no table)"
    spe = results[0].get("syscalls_per_envelope") if results else None
    print(f"[run {run}] {label:<11} {row}  sys/msg {'-' if spe is None else f'{spe:.4f}'}  "
          f"({time.monotonic() - began:.1f} s)", flush=True)
    for extra in lines[2:]:
        print(f"[run {run}] {'':<11} {extra}", flush=True)
    problems = []
    if rc != 0:
        problems.append(f"reflector-bench exited {rc}")
    if code != 0:
        problems.append(f"{target_name} exited {code} on SIGTERM: {target.output()[-2000:]}")
    if counters is None:
        problems.append(f"{target_name} logged no counters at exit")
    for r in results:
        r["label"], r["run"] = label, run
    return results, problems


def ecdh_rate():
    r = subprocess.run([BENCH, "--ecdh-rate", "2"], capture_output=True, text=True, timeout=60)
    print(r.stdout.strip())
    for word in r.stdout.split():
        if word.endswith("/s") and word[:-2].replace(".", "").isdigit():
            return float(word[:-2])
    return None


def prepare():
    os.makedirs(os.path.dirname(KEY), exist_ok=True)
    if not os.path.exists(KEY):
        subprocess.run([RELAY, "keygen", KEY], check=True, stdout=subprocess.DEVNULL, timeout=60)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", help="comma-separated labels of the plan to run (default: all)")
    ap.add_argument("--no-epoll", action="store_true", help="leave out the relay on its epoll backend")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "latest.json"))
    a = ap.parse_args()
    prepare()
    machine = summary.machine()
    print(f"machine: {machine['cpu']} x{machine['cpus']}, load {machine['load_before']}")
    plan, runs = (QUICK, 1) if a.quick else (FULL, max(1, min(a.runs, 9)))
    if a.only:
        plan = [p for p in plan if p[0] in a.only.split(",")]
    ecdh = None if a.quick else ecdh_rate()
    started = time.monotonic()
    results, problems, ok, tried = [], [], 0, 0
    for run in range(1, runs + 1):
        peaks = {}
        for label, args, overrides in plan:
            if run > 1 and label in ONCE and not a.quick:
                continue
            order = ["relay", "peer"] + (["epoll"] if label in EPOLL and not a.no_epoll else [])
            if not run % 2:
                order.reverse()
            for t in order:
                if t == "peer" and label in RELAY_ONLY:
                    continue
                tried += 1
                args_t = list(args)
                if label == "route-half":
                    if not peaks.get(t):
                        problems.append(f"run {run}: no route peak for {t}")
                        continue
                    args_t += ["--rate", str(int(peaks[t] / 2))]
                got, probs = one(label, t, args_t, target_flags(overrides), a.quick, run)
                results += got
                problems += [f"run {run} {label} {t}: {p}" for p in probs]
                ok += not probs
                if label == "route" and got and got[0].get("msgs_per_s"):
                    peaks[t] = got[0]["msgs_per_s"]
    elapsed = time.monotonic() - started
    machine["load_after"] = summary.machine()["load_before"]
    plan_doc = {label: {"bench": args, "target": target_flags(o)} for label, args, o in plan}
    if a.quick:
        # The chart code runs too, on the quick figures, outside the tree.
        report = summary.summarize(results, machine, ecdh, CPUS, plan_doc, runs, elapsed)
        chart_path = os.path.join(ROOT, "build", "bench", "quick.svg")
        try:
            chart.draw(report, chart_path)
        except Exception as e:  # noqa: BLE001 - any failure of the chart is a harness failure
            problems.append(f"chart: {e!r}")
        for p in problems:
            print(f"bench-quick: {p}")
        failed = tried - ok + sum(p.startswith("chart") for p in problems)
        print(f"bench-quick: {tried} scenario runs and the chart in {time.monotonic() - started:.0f} s")
        print(f"{ok} passed, {failed} failed")
        return 1 if failed else 0
    report = summary.summarize(results, machine, ecdh, CPUS, plan_doc, runs, elapsed)
    summary.print_report(report)
    for p in problems:
        print(f"problem: {p}")
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(report, f, indent=1)
        f.write("\n")
    chart_path = os.path.splitext(a.out)[0] + ".svg"
    chart.draw(report, chart_path)
    print(f"wrote {os.path.relpath(a.out, ROOT)} and {os.path.relpath(chart_path, ROOT)} ({elapsed:.0f} s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
