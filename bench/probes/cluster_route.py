#!/usr/bin/env python3
"""Envelopes between two relay nodes joined through NATS, beside envelopes
within one node: what the bus (--nats) costs.

Starts a 3-server NATS cluster (Debian's nats-server, routes between them,
free loopback ports), and two relays (build/reflector or $REFLECTOR, one
shard each unless THREADS says otherwise) with the same --key, each given
a different server first. Then `reflector-bench route` in pairs:

  same-node   both clients of every pair on node A (the bus joined, unused)
  cross-node  the second client of every pair on node B (--url2): every
              envelope crosses A's server, a route and B's server

each closed loop (peak envelopes/s) and then open loop at half of the
cross-node peak (p50/p99 at a load the machine carries), RUNS times,
alternating, and prints the medians: envelopes/s, p50, p99, the relays' CPU
microseconds per envelope (both relays summed, from /proc, over the
measured window) and the three nats-servers' (from /proc around the run,
so it includes the short set-up). Bounded: RUNS x 4 runs of DURATION
seconds, every wait under a timeout.

    bench/probes/cluster_route.py [RUNS] [DURATION] [CLIENTS] [THREADS] [RATE]

RATE: the open loop's envelopes per second instead of half the peak.
"""
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RELAY = os.environ.get("REFLECTOR", os.path.join(ROOT, "build", "reflector"))
BENCH = os.path.join(ROOT, "build", "reflector-bench")
NATS = os.environ.get("NATS_SERVER", "/usr/sbin/nats-server")
TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(cond, what, seconds=20):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if cond():
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"cluster_route: {what} after {seconds} s")


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def can_connect(port):
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def bench(url, url2, pids, duration, clients, rate=0):
    out = tempfile.NamedTemporaryFile(suffix=".json", delete=False).name
    cmd = [BENCH, "route", "--url", url, "--clients", str(clients), "--duration", str(duration), "--warmup", "1",
           "--pid", ",".join(map(str, pids)), "--json", out, "--quiet"]
    if url2:
        cmd += ["--url2", url2]
    if rate:
        cmd += ["--rate", str(rate)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, timeout=duration + 120)
    with open(out) as f:
        r = json.load(f)[0]
    os.unlink(out)
    return r


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    duration = float(sys.argv[2]) if len(sys.argv) > 2 else 5
    clients = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    threads = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    fixed_rate = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    tmp = tempfile.mkdtemp(prefix="reflector-cluster-bench-")
    key = os.path.join(tmp, "key.pem")
    subprocess.run([RELAY, "keygen", key], check=True, stdout=subprocess.DEVNULL)
    servers = [{"client": free_port(), "route": free_port(), "http": free_port()} for _ in range(3)]
    procs = []
    try:
        for i, s in enumerate(servers):
            routes = ",".join(f"nats://127.0.0.1:{o['route']}" for o in servers if o is not s)
            procs.append(subprocess.Popen(
                [NATS, "-a", "127.0.0.1", "-p", str(s["client"]), "-m", str(s["http"]), "-n", f"b{i}",
                 "--cluster_name", "bench", "--cluster", f"nats://127.0.0.1:{s['route']}", "--routes", routes],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait(lambda: all(json.load(urllib.request.urlopen(f"http://127.0.0.1:{s['http']}/routez", timeout=1))
                         ["num_routes"] == 2 for s in servers), "routes not up")
        urls = [f"nats://127.0.0.1:{s['client']}" for s in servers]
        nodes = []
        for i in range(2):
            port = free_port()
            order = urls[i:] + urls[:i]
            p = subprocess.Popen([RELAY, "--listen", f"127.0.0.1:{port}", "--threads", str(threads), "--key", key,
                                  "--rate", "1000000", "--max-registrations-per-ip", "0", "--registration-rate-per-ip", "0", "--nats", ",".join(order), "--node-id", f"bench{i}",
                                  "--log-level", "warn"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(p)
            wait(lambda: can_connect(port), "relay not listening")
            nodes.append((p, f"ws://127.0.0.1:{port}/"))
        (pa, ua), (pb, ub) = nodes
        nats_pids = [p.pid for p in procs[:3]]
        rows = {"same-node": [], "cross-node": []}
        peak = {}
        for _ in range(runs):
            for name, url2, pids in (("same-node", None, [pa.pid]), ("cross-node", ub, [pa.pid, pb.pid])):
                n0 = sum(cpu_s(p) for p in nats_pids)
                r = bench(ua, url2, pids, duration, clients)
                n1 = sum(cpu_s(p) for p in nats_pids)
                envelopes = r.get("envelopes_sent") or 0
                rows[name].append({"closed": r, "nats_us": (n1 - n0) * 1e6 / envelopes if envelopes else float("nan")})
        # Open loop at half of the cross-node peak, for both.
        half = fixed_rate or int(statistics.median(x["closed"]["msgs_per_s"] for x in rows["cross-node"]) / 2)
        for _ in range(runs):
            for name, url2, pids in (("same-node", None, [pa.pid]), ("cross-node", ub, [pa.pid, pb.pid])):
                r = bench(ua, url2, pids, duration, clients, rate=half)
                rows[name].append({"open": r})
        med = lambda xs: round(statistics.median(xs), 2) if xs else None
        out = {"runs": runs, "duration_s": duration, "clients": clients, "relay_threads": threads,
               "open_loop_rate": half}
        for name, xs in rows.items():
            closed = [x["closed"] for x in xs if "closed" in x]
            opened = [x["open"] for x in xs if "open" in x]
            out[name] = {
                "peak_envelopes_per_s": med([c["msgs_per_s"] for c in closed]),
                "peak_p50_us": med([c["p50_us"] for c in closed]),
                "peak_p99_us": med([c["p99_us"] for c in closed]),
                "relay_cpu_us_per_envelope": med([c["cpu_us_per_envelope"] for c in closed]),
                "nats_cpu_us_per_envelope": med([x["nats_us"] for x in xs if "nats_us" in x]),
                "half_peak_p50_us": med([o["p50_us"] for o in opened]),
                "half_peak_p99_us": med([o["p99_us"] for o in opened]),
                "relay_ctxsw_per_envelope": med([c["ctxsw_per_envelope"] for c in closed]),
                "half_peak_errors": sum(o.get("error_count") or 0 for o in opened),
            }
        print(json.dumps(out, indent=1))
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    main()
