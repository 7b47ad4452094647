#!/usr/bin/python3
"""make bench-tls: the relay over wss:// (--tls-cert) beside ws://.

For each of ws and wss a fresh relay (build/reflector) on a loopback port,
with a certificate made here by openssl (EC P-256, a CA of its own):
- route at 256 B: the relay's CPU per envelope (reflector-bench --pid);
- idle: the relay's RSS per registered connection;
- wss only: full TLS handshakes and resumed ones (a session ticket) from
  bench/driver/tls_storm.mjs, and the relay's CPU per handshake, so
  handshakes per second per handshake thread = 1 / CPU per handshake.
Prints one table and writes bench/results/tls.json. Every child has a
timeout; every relay is stopped.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from target import ROOT, Target  # noqa: E402

BENCH = os.path.join(ROOT, "build", "reflector-bench")
KEY = os.path.join(ROOT, "build", "bench", "server.pem")
KEYS = os.path.join(ROOT, "build", "bench", "keys.txt")
STORM = os.path.join(ROOT, "bench", "driver", "tls_storm.mjs")
CLK_TCK = os.sysconf("SC_CLK_TCK")
FLAGS = ["--threads", "2", "--key", KEY, "--rate", "1000000", "--register-timeout", "60", "--ping-interval", "120",
         "--max-registrations-per-ip", "0", "--registration-rate-per-ip", "0", "--log-level", "warn"]


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_cert(d):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key",
            "-out", "ca.pem", "-days", "2", "-subj", "/CN=bench CA", cwd=d)
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "server.key",
            "-out", "server.csr", "-subj", "/CN=localhost", cwd=d)
    with open(os.path.join(d, "ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", "7", "-days", "2",
            "-extfile", "ext", "-out", "server.pem", cwd=d)
    return [os.path.join(d, n) for n in ("ca.pem", "server.pem", "server.key")]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def bench(target, url, ca, args):
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        cmd = [BENCH, "--url", url, "--keys", KEYS, "--target", target.name, "--json", out.name,
               "--pid", str(target.pid), *(["--ca", ca] if ca else []), *args]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            raise RuntimeError(f"reflector-bench {' '.join(args)}: exit {r.returncode}\n{r.stdout}{r.stderr}")
        return json.load(open(out.name))[0]


def storm(target, port, ca, n, resume):
    before = cpu_seconds(target.pid)
    t0 = time.monotonic()
    r = subprocess.run(["node", STORM, str(port), str(n), "4", ca] + (["resume"] if resume else []),
                       capture_output=True, text=True, timeout=600)
    wall = time.monotonic() - t0
    got = json.loads(r.stdout)
    cpu = cpu_seconds(target.pid) - before
    return {"handshakes": got["done"], "resumed": got["resumed"], "errors": got["errors"], "wall_s": wall,
            "relay_cpu_s": cpu, "cpu_us_per_handshake": 1e6 * cpu / max(1, got["done"]),
            "per_thread_per_s": got["done"] / cpu if cpu else None}


def main():
    os.makedirs(os.path.dirname(KEY), exist_ok=True)
    if not os.path.exists(KEY):
        subprocess.run([os.path.join(ROOT, "build", "reflector"), "keygen", KEY], check=True,
                       stdout=subprocess.DEVNULL, timeout=60)
    report = {"load_before": os.getloadavg()[0], "rows": {}}
    with tempfile.TemporaryDirectory(prefix="reflector-bench-tls-") as d:
        ca, cert, key = make_cert(d)
        for name in ("ws", "wss"):
            tls = ["--tls-cert", cert, "--tls-key", key, "--tls-threads", "1"] if name == "wss" else []
            row = {}
            t = Target("relay", FLAGS + tls)
            t.name = name
            try:
                url = f"wss://localhost:{t.port}/" if tls else f"ws://127.0.0.1:{t.port}/"
                extra = ["--connect-to", "127.0.0.1"] if tls else []
                r = bench(t, url, ca if tls else None,
                          extra + ["route", "--clients", "100", "--window", "16", "--size", "256", "--duration", "4",
                                   "--warmup", "1"])
                row["route_msgs_per_s"] = r.get("msgs_per_s")
                row["route_cpu_us_per_envelope"] = r.get("cpu_us_per_envelope")
                row["route_p99_us"] = r.get("p99_us")
            finally:
                t.stop()
            t = Target("relay", FLAGS + tls)
            t.name = name
            try:
                url = f"wss://localhost:{t.port}/" if tls else f"ws://127.0.0.1:{t.port}/"
                r = bench(t, url, ca if tls else None,
                          extra + ["idle", "--clients", "2000", "--duration", "2", "--setup-inflight", "128"])
                row["idle_rss_bytes_per_conn"] = r.get("rss_per_conn_bytes")
                if tls:
                    row["full"] = storm(t, t.port, ca, 500, False)
                    row["resumed"] = storm(t, t.port, ca, 2000, True)
            finally:
                t.stop()
            report["rows"][name] = row
    report["load_after"] = os.getloadavg()[0]
    ws, wss = report["rows"]["ws"], report["rows"]["wss"]
    print(f"load {report['load_before']:.1f} -> {report['load_after']:.1f}")
    print(f"{'':<36}{'ws':>12}{'wss':>12}")
    for label, key in (("route envelopes/s (100 clients)", "route_msgs_per_s"),
                       ("route CPU us/envelope, 256 B", "route_cpu_us_per_envelope"),
                       ("route p99 us", "route_p99_us"),
                       ("idle RSS bytes/connection", "idle_rss_bytes_per_conn")):
        fmt = lambda v: "-" if v is None else f"{v:.1f}" if isinstance(v, float) else str(v)  # noqa: E731
        print(f"{label:<36}{fmt(ws.get(key)):>12}{fmt(wss.get(key)):>12}")
    for kind in ("full", "resumed"):
        h = wss[kind]
        print(f"wss {kind} handshakes: {h['handshakes']} ({h['resumed']} resumed, {h['errors']} errors) in "
              f"{h['wall_s']:.1f} s; relay CPU {h['cpu_us_per_handshake']:.0f} us each: "
              f"{h['per_thread_per_s']:.0f} per second per handshake thread")
    out = os.path.join(ROOT, "bench", "results", "tls.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump(report, f, indent=1)
        f.write("\n")
    print(f"wrote {os.path.relpath(out, ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
