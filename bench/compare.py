#!/usr/bin/python3
"""make bench / make bench-quick: the relay against the Node peer.

Starts a fresh relay (build/reflector) or peer (bench/peer/reflector-peer)
on a loopback port for every scenario run, with the same flags, runs
build/reflector-bench against it, stops it, and alternates the order of the
two targets from run to run. Full: three runs of route, route at half of
that run's peak, register and mixed, and one of idle (10,000 registered
connections: the peer alone needs about 70 s to verify their proofs, and
the RSS per connection varies by less than the other figures); then the
medians, the ratio relay/peer and the issue's targets, printed and written
to bench/results/latest.json. About 5 minutes on 2 cores.
--quick: one small run of each scenario against both, each required to
produce its figures with no error counted (the harness check CI runs), in
well under a minute; nothing is compared or asserted about speed.

Bounded: every child has a timeout, every target is stopped (SIGKILL after
10 s), and the runs are counted.
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import summary  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "build", "reflector-bench")
TARGETS = {
    "relay": [os.path.join(ROOT, "build", "reflector")],
    "peer": [os.path.join(ROOT, "bench", "peer", "reflector-peer")],
}
KEY = os.path.join(ROOT, "build", "bench", "server.pem")
KEYS = os.path.join(ROOT, "build", "bench", "keys.txt")
CPUS = os.cpu_count() or 1

# Flags both targets get: every limit that would refuse benchmark traffic
# is lifted, nothing else changes.
TARGET_FLAGS = ["--threads", str(CPUS), "--crypto-threads", str(CPUS), "--key", KEY,
                "--rate", "1000000", "--register-timeout", "60", "--ping-interval", "120",
                # Every bench client comes from one address.
                "--max-registrations-per-ip", "0", "--registration-rate-per-ip", "0",
                "--log-level", "warn"]

FULL = [
    ("route", ["route", "--clients", "100", "--window", "16", "--size", "256", "--duration", "4", "--warmup", "1"]),
    ("route-half", ["route", "--clients", "100", "--size", "256", "--duration", "4", "--warmup", "1"]),
    ("register", ["register", "--reg-inflight", "32", "--duration", "4", "--warmup", "1"]),
    ("mixed", ["mixed", "--clients", "100", "--size", "256", "--rate", "10000", "--reg-inflight", "32",
               "--duration", "4", "--warmup", "1"]),
    ("idle", ["idle", "--clients", "10000", "--duration", "3", "--setup-inflight", "256"]),
]
ONCE = {"idle"}  # full runs: these in the first run only
QUICK = [
    ("route", ["route", "--clients", "20", "--window", "8", "--size", "256", "--duration", "1", "--warmup", "0.5"]),
    ("register", ["register", "--reg-inflight", "8", "--duration", "1", "--warmup", "0.5"]),
    ("mixed", ["mixed", "--clients", "20", "--size", "256", "--rate", "2000", "--reg-inflight", "8",
               "--duration", "1", "--warmup", "0.5"]),
    ("idle", ["idle", "--clients", "200", "--duration", "1"]),
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, proc, timeout=15):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class Target:
    """One relay or peer process for one scenario run."""

    def __init__(self, name):
        self.name = name
        self.port = free_port()
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(TARGETS[name] + ["--listen", f"127.0.0.1:{self.port}"] + TARGET_FLAGS,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        if not wait_listening(self.port, self.proc):
            self.stop()
            raise RuntimeError(f"{name} did not start: {self.output()}")

    def output(self):
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")[-2000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def run_bench(target, args, strict):
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        cmd = [BENCH, "--url", f"ws://127.0.0.1:{target.port}/", "--keys", KEYS, "--target", target.name,
               "--json", out.name] + args
        if strict:
            cmd.append("--strict")
        if "idle" in args:
            cmd += ["--pid", str(target.proc.pid)]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        sys.stderr.write(r.stderr)
        try:
            results = json.load(open(out.name))
        except (OSError, ValueError):
            results = []
    return r.returncode, r.stdout, results


def one(label, target_name, args, strict, run):
    try:
        target = Target(target_name)
    except RuntimeError as e:
        print(f"[run {run}] {label:<10} {target_name}: {e}", flush=True)
        return [], [str(e)]
    try:
        rc, table, results = run_bench(target, args, strict)
    finally:
        code = target.stop()
    lines = table.strip().splitlines()
    print(f"[run {run}] {label:<10} " + (lines[1] if len(lines) > 1 else "(no table)"), flush=True)
    for extra in lines[2:]:
        print(f"[run {run}] {'':<10} {extra}", flush=True)
    problems = []
    if rc != 0:
        problems.append(f"reflector-bench exited {rc}")
    if code != 0:
        problems.append(f"{target_name} exited {code} on SIGTERM: {target.output()}")
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
        subprocess.run([TARGETS["relay"][0], "keygen", KEY], check=True, stdout=subprocess.DEVNULL, timeout=60)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "latest.json"))
    a = ap.parse_args()
    prepare()
    machine = summary.machine()
    print(f"machine: {machine['cpu']} x{machine['cpus']}, load {machine['load_before']}")
    plan, runs = (QUICK, 1) if a.quick else (FULL, max(1, min(a.runs, 9)))
    ecdh = None if a.quick else ecdh_rate()
    started = time.monotonic()
    results, problems, ok = [], [], 0
    for run in range(1, runs + 1):
        order = ["relay", "peer"] if run % 2 else ["peer", "relay"]
        peaks = {}
        for label, args in plan:
            if run > 1 and label in ONCE and not a.quick:
                continue
            for t in order:
                args_t = list(args)
                if label == "route-half":
                    if not peaks.get(t):
                        problems.append(f"run {run}: no route peak for {t}")
                        continue
                    args_t += ["--rate", str(int(peaks[t] / 2))]
                got, probs = one(label, t, args_t, a.quick, run)
                results += got
                problems += [f"run {run} {label} {t}: {p}" for p in probs]
                ok += not probs
                if label == "route" and got and got[0].get("msgs_per_s"):
                    peaks[t] = got[0]["msgs_per_s"]
    elapsed = time.monotonic() - started
    machine["load_after"] = summary.machine()["load_before"]
    if a.quick:
        for p in problems:
            print(f"bench-quick: {p}")
        failed = 2 * len(plan) - ok
        print(f"bench-quick: {2 * len(plan)} scenario runs in {elapsed:.0f} s")
        print(f"{ok} passed, {failed} failed")
        return 1 if failed else 0
    report = summary.summarize(results, machine, ecdh, CPUS, TARGET_FLAGS, plan, runs, elapsed)
    summary.print_report(report)
    for p in problems:
        print(f"problem: {p}")
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(report, f, indent=1)
        f.write("\n")
    print(f"wrote {os.path.relpath(a.out, ROOT)} ({elapsed:.0f} s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
