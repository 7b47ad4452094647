"""One relay or peer process for one scenario run: started on a free
loopback port, stopped with SIGTERM (SIGKILL after 10 s), its log kept so
the counters it prints at exit can be read."""
import os
import signal
import socket
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COMMANDS = {
    "relay": [os.path.join(ROOT, "build", "reflector")],
    # The same relay on its epoll backend (where io_uring is refused).
    "epoll": [os.path.join(ROOT, "build", "reflector"), "--io", "epoll"],
    "peer": [os.path.join(ROOT, "bench", "peer", "reflector-peer")],
}


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


def exit_counters(log):
    """The counters a target logs when it stops, as a dict: the relay's
    `totals: name=value ...` line (relay/main.c) or the peer's `counters:`
    one; None when there is no such line."""
    found = None
    for line in log.splitlines():
        for word in (" totals:", " counters:"):
            if word in line:
                found = {}
                for kv in line.split(word, 1)[1].split():
                    k, _, v = kv.partition("=")
                    if v.isdigit():
                        found[k] = int(v)
    return found


class Target:
    def __init__(self, name, flags):
        self.name = name
        self.port = free_port()
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(COMMANDS[name] + ["--listen", f"127.0.0.1:{self.port}"] + flags,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        if not wait_listening(self.port, self.proc):
            self.stop()
            raise RuntimeError(f"{name} did not start: {self.output()[-2000:]}")

    @property
    def pid(self):
        return self.proc.pid

    def output(self):
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode
