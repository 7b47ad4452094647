#!/usr/bin/python3
"""Measures the relay's memory with idle WebSocket connections.

Starts build/reflector (or $REFLECTOR) on a free loopback port, reads its
VmRSS with no connection, opens N/2 and then N connections that finish the
handshake and read their register2 challenge, then stay idle, reading
VmRSS after each half. The first half also touches every provided receive
buffer (1024 x 4 KiB per shard, a fixed cost); the second half shows what
one more idle connection costs. Bounded: N connections, one try
each, a 120 s overall limit. The relay and this client are separate
processes, so each stays under the per-process file limit.

usage: bench/probes/idle_rss.py [N] [--threads T]
"""
import argparse
import asyncio
import base64
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))  # the repository root
from tests.lib.relayproc import Relay  # noqa: E402


def vm_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def open_one(port, keep):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((f"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    await reader.readuntil(b"\r\n\r\n")
    head = await reader.readexactly(4)  # the register2 frame: 126-form length
    length = int.from_bytes(head[2:4], "big")
    await reader.readexactly(length)
    keep.append(writer)


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("n", type=int, nargs="?", default=10000)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    with Relay("--max-conns", str(args.n + 100), "--ping-interval", "600", "--handshake-timeout", "60",
               "--register-timeout", "600", threads=args.threads) as relay:
        time.sleep(0.5)
        rss0 = vm_rss_kib(relay.proc.pid)
        keep = []
        start = time.monotonic()
        sem = asyncio.Semaphore(500)

        async def bounded():
            async with sem:
                await open_one(relay.port, keep)

        half = args.n // 2
        await asyncio.wait_for(asyncio.gather(*(bounded() for _ in range(half))), timeout=60)
        await asyncio.sleep(1.0)
        rss_half = vm_rss_kib(relay.proc.pid)
        await asyncio.wait_for(asyncio.gather(*(bounded() for _ in range(args.n - half))), timeout=60)
        opened = time.monotonic() - start
        await asyncio.sleep(1.0)
        rss1 = vm_rss_kib(relay.proc.pid)
        n = len(keep)
        print(f"connections: {n} (opened in {opened:.1f} s), shards: {args.threads}")
        print(f"VmRSS: no connection {rss0} KiB; {half} idle: {rss_half} KiB; {n} idle: {rss1} KiB")
        print(f"average over all {n}: {(rss1 - rss0) * 1024 / max(1, n):.0f} bytes per connection")
        print(f"marginal, second {n - half}: {(rss1 - rss_half) * 1024 / max(1, n - half):.0f} bytes per connection")
        for w in keep:
            w.close()


if __name__ == "__main__":
    asyncio.run(main())
