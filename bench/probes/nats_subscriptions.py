#!/usr/bin/env python3
"""What N registered tabs cost each server of a NATS cluster (--nats).

Each SIG registered on a relay node is one NATS subscription (queue group
"holder") on the subject CLUSTER.sig.SIG, and every server of the cluster
keeps it: the one the relay is connected to as a client subscription, the
others as route interest. This starts 3 nats-servers (Debian's, or
$NATS_SERVER) routed to each other on free loopback ports, makes N such
subscriptions from one plain NATS protocol client on server 0 (what a relay
would send), waits until all 3 know them (/subsz), and prints each server's
memory before and after (/varz "mem", its RSS) and the bytes per
subscription. Bounded: N subscriptions, every wait 20 s at most.

    bench/probes/nats_subscriptions.py [N]      (default 100000)
"""
import base64
import hashlib
import json
import socket
import subprocess
import sys
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/{path}", timeout=2) as r:
        return json.load(r)


def wait(cond, what, seconds=20):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if cond():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"nats_subscriptions: {what} after {seconds} s")


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
    servers = [{"client": free_port(), "route": free_port(), "http": free_port()} for _ in range(3)]
    procs = []
    try:
        for i, s in enumerate(servers):
            routes = ",".join(f"nats://127.0.0.1:{o['route']}" for o in servers if o is not s)
            procs.append(subprocess.Popen(
                ["/usr/sbin/nats-server", "-a", "127.0.0.1", "-p", str(s["client"]), "-m", str(s["http"]),
                 "-n", f"s{i}", "--cluster_name", "probe", "--cluster", f"nats://127.0.0.1:{s['route']}",
                 "--routes", routes], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait(lambda: all(get(s["http"], "routez")["num_routes"] == 2 for s in servers), "routes not up")
        time.sleep(0.5)
        base_subs = [get(s["http"], "subsz")["num_subscriptions"] for s in servers]
        before = [get(s["http"], "varz")["mem"] for s in servers]
        c = socket.create_connection(("127.0.0.1", servers[0]["client"]))
        c.recv(4096)  # INFO
        c.sendall(b'CONNECT {"verbose":false,"headers":true,"no_responders":true}\r\n')
        buf = bytearray()
        for k in range(n):
            sig = base64.urlsafe_b64encode(hashlib.sha256(str(k).encode()).digest()).rstrip(b"=")
            buf += b"SUB reflector.sig.%s holder %d\r\n" % (sig, k + 1)
            if len(buf) > 1 << 20:
                c.sendall(buf)
                buf.clear()
        c.sendall(bytes(buf) + b"PING\r\n")
        got = b""
        c.settimeout(20)
        while b"PONG" not in got:
            got += c.recv(65536)
        wait(lambda: all(get(s["http"], "subsz")["num_subscriptions"] >= b + n for s, b in zip(servers, base_subs)),
             "subscriptions not propagated")
        time.sleep(1)
        after = [get(s["http"], "varz")["mem"] for s in servers]
        print(json.dumps({
            "subscriptions": n,
            "server_mb_before": [round(b / 2**20, 1) for b in before],
            "server_mb_after": [round(a / 2**20, 1) for a in after],
            "bytes_per_subscription": [round((a - b) / n) for a, b in zip(after, before)],
            "note": "server 0 holds them as client subscriptions, 1 and 2 as route interest",
        }))
        c.close()
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=10)


if __name__ == "__main__":
    main()
