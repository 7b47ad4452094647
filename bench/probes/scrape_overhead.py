#!/usr/bin/env python3
"""What scraping /metrics costs the relay while it routes envelopes.

Starts build/reflector (or $REFLECTOR) with --metrics-listen on free
loopback ports, runs `reflector-bench route` against it RUNS times without
scraping and RUNS times while a thread here does GET /metrics every 100 ms,
alternating so that the machine's noise falls on both alike, and prints the
medians: envelopes per second and the relay's CPU microseconds per envelope
(from /proc, steadier than throughput on a shared machine). First it
measures the relay's CPU per scrape directly on an idle relay (2000
scrapes), which puts the cost of 10 scrapes a second against the CPU the
relay spends routing. Bounded: RUNS x
2 runs of --duration seconds each, one relay per run.

    bench/probes/scrape_overhead.py [RUNS] [DURATION] [CLIENTS]
"""
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RELAY = os.environ.get("REFLECTOR", os.path.join(ROOT, "build", "reflector"))
BENCH = os.path.join(ROOT, "build", "reflector-bench")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# One server key for every run, so the load generator's key cache holds.
KEY = os.path.join(ROOT, "build", "bench", "scrape-overhead.pem")


def run(scrape, duration, clients):
    port, mport = free_port(), free_port()
    relay = subprocess.Popen([RELAY, "--listen", "127.0.0.1:%d" % port, "--threads", "2", "--log-level", "warn",
                              "--key", KEY, "--rate", "1000000", "--max-registrations-per-ip", "0",
                              "--registration-rate-per-ip", "0", "--metrics-listen", "127.0.0.1:%d" % mport],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stop = threading.Event()
    scrapes = [0, 0]  # count, bytes

    def scraper():
        while not stop.is_set():
            t0 = time.monotonic()
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport, timeout=5) as r:
                scrapes[1] += len(r.read())
            scrapes[0] += 1
            stop.wait(max(0.0, 0.1 - (time.monotonic() - t0)))

    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.05)
        out = tempfile.NamedTemporaryFile(suffix=".json", delete=False).name
        t = threading.Thread(target=scraper) if scrape else None
        if t:
            t.start()
        subprocess.run([BENCH, "--url", "ws://127.0.0.1:%d/" % port, "--clients", str(clients), "--duration",
                        str(duration), "--pid", str(relay.pid), "--json", out, "route"],
                       check=True, stdout=subprocess.DEVNULL, timeout=duration + 180)
        stop.set()
        if t:
            t.join()
        with open(out) as f:
            res = json.load(f)[0]
        os.unlink(out)
        return res, scrapes
    finally:
        stop.set()
        relay.terminate()
        relay.wait(timeout=30)


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cost_of_one_scrape(n=2000):
    """The relay's CPU per scrape, measured directly: n scrapes of an idle
    relay (its CPU outside scrapes is a tick every 250 ms per shard)."""
    port, mport = free_port(), free_port()
    relay = subprocess.Popen([RELAY, "--listen", "127.0.0.1:%d" % port, "--threads", "2", "--log-level", "warn",
                              "--metrics-listen", "127.0.0.1:%d" % mport],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        c0, t0 = cpu_seconds(relay.pid), time.monotonic()
        for _ in range(n):
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport, timeout=5) as r:
                r.read()
        c1, t1 = cpu_seconds(relay.pid), time.monotonic()
        # What the idle relay spends anyway over that time, measured after.
        time.sleep(t1 - t0)
        c2 = cpu_seconds(relay.pid)
        return ((c1 - c0) - (c2 - c1)) / n
    finally:
        relay.terminate()
        relay.wait(timeout=30)


def main():
    per = cost_of_one_scrape()
    print("relay CPU per scrape (idle relay, 2000 scrapes): %.1f us; every 100 ms: %.2f ms of CPU per second"
          % (per * 1e6, per * 1e4), flush=True)
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    duration = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    clients = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    if not os.path.exists(KEY):
        os.makedirs(os.path.dirname(KEY), exist_ok=True)
        subprocess.run([RELAY, "keygen", KEY], check=True, stdout=subprocess.DEVNULL)
    results = {False: [], True: []}
    for i in range(runs):
        for scrape in (False, True) if i % 2 == 0 else (True, False):
            res, scrapes = run(scrape, duration, clients)
            results[scrape].append(res)
            print("run %d %-11s %s scrapes %d (%d bytes each)" % (
                i + 1, "scraping" if scrape else "no scrape",
                json.dumps({k: res.get(k) for k in ("msgs_per_s", "cpu_us_per_envelope")}),
                scrapes[0], scrapes[1] // max(1, scrapes[0])), flush=True)
    med = {}
    for scrape, rs in results.items():
        med[scrape] = {k: statistics.median(r[k] for r in rs) for k in ("msgs_per_s", "cpu_us_per_envelope")}
    print("medians of %d runs, no scrape: %s" % (runs, med[False]))
    print("medians of %d runs, scraping every 100 ms: %s" % (runs, med[True]))
    for k in ("msgs_per_s", "cpu_us_per_envelope"):
        print("%s: %+.2f%%" % (k, 100 * (med[True][k] - med[False][k]) / med[False][k]))
    # The direct figure: 10 scrapes a second against the CPU the relay
    # spends per second routing (cpu/envelope x envelopes/s).
    busy = med[False]["cpu_us_per_envelope"] * med[False]["msgs_per_s"] / 1e6
    print("10 scrapes/s = %.3f%% of the relay's CPU while routing (%.2f cores busy)" % (100 * per * 10 / busy, busy))


if __name__ == "__main__":
    main()
