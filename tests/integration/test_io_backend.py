"""The IO backend chosen at start (--io auto|io_uring|epoll): where io_uring
is refused the way Docker's default seccomp profile refuses it
(build/no-io-uring, a launcher with a libseccomp filter), --io auto runs on
epoll, says so and why, and relays registered traffic; --io io_uring exits
2 with the reason. The backend shows in the start-up log and in the `io`
label of reflector_build_info."""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

from tests.lib.relayproc import ROOT, Relay, binary, free_port

LAUNCHER = os.path.join(ROOT, "build", "no-io-uring")
TRAFFIC = os.path.join(ROOT, "tests", "integration", "traffic.mjs")
PAIRS, ENVELOPES = 2, 20


def launcher(errno="EPERM"):
    if not os.path.exists(LAUNCHER):
        raise AssertionError("%s is missing: make build/no-io-uring (libseccomp-dev)" % LAUNCHER)
    return (LAUNCHER, "--errno", errno)


def backend_line(relay):
    lines = relay.log_lines(r"\bio backend ")
    assert len(lines) == 1, relay.output()  # logged once, at start
    return lines[0]


def io_label(relay):
    (labels, value), = relay.scrape().series("reflector_build_info").items()
    return dict(labels)["io"]


class Fallback(unittest.TestCase):
    def relay_traffic(self, relay):
        """Registered pairs across the two shards exchange envelopes."""
        proc = subprocess.Popen(["node", TRAFFIC, relay.url, "--shards", "2", "--pairs", str(PAIRS),
                                 "--envelopes", str(ENVELOPES), "--pings", "1"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            res = json.loads(proc.stdout.readline())
        finally:
            proc.stdin.close()
            proc.wait(timeout=20)
            proc.stdout.close()
        self.assertNotIn("error", res, res)
        self.assertEqual(res["registered"], 2 * PAIRS)
        self.assertEqual(res["delivered"], PAIRS * ENVELOPES)
        self.assertEqual(res["accepted"], PAIRS * ENVELOPES)
        self.assertEqual(res["pongs"], 2 * PAIRS)
        self.assertEqual(res["other"], [])
        m = relay.scrape()
        self.assertEqual(m.value("reflector_envelopes_total", result="delivered"), PAIRS * ENVELOPES)

    def test_auto_runs_on_epoll_where_seccomp_refuses_io_uring(self):
        with Relay("--io", "auto", launcher=launcher("EPERM"), log_level="info", metrics=True) as relay:
            line = backend_line(relay)
            self.assertIn("io backend epoll: io_uring is refused here: io_uring_setup failed: "
                          "Operation not permitted", line)
            self.assertIn("seccomp", line)
            self.assertRegex(relay.output(), r"listening on .*, epoll, wslay")
            self.assertEqual(io_label(relay), "epoll")
            self.relay_traffic(relay)

    def test_auto_runs_on_epoll_where_io_uring_is_missing(self):
        with Relay("--io", "auto", launcher=launcher("ENOSYS"), log_level="info", metrics=True) as relay:
            self.assertIn("io backend epoll: io_uring is refused here: io_uring_setup failed: "
                          "Function not implemented", backend_line(relay))
            self.assertEqual(io_label(relay), "epoll")

    def test_io_uring_asked_for_where_refused_exits_2(self):
        r = subprocess.run([*launcher("EPERM"), binary(), "--io", "io_uring", "--listen", "127.0.0.1:%d" % free_port()],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("reflector: --io io_uring, but io_uring is refused here: io_uring_setup failed: "
                      "Operation not permitted", r.stderr)
        self.assertIn("--io auto or --io epoll", r.stderr)
        self.assertNotIn("listening on", r.stdout + r.stderr)


class Choice(unittest.TestCase):
    def test_epoll_asked_for(self):
        with Relay("--io", "epoll", log_level="info", metrics=True) as relay:
            self.assertIn("io backend epoll: asked for (--io epoll)", backend_line(relay))
            self.assertEqual(io_label(relay), "epoll")

    def test_auto_says_what_it_chose(self):
        with Relay("--io", "auto", log_level="info", metrics=True) as relay:
            line = backend_line(relay)
            label = io_label(relay)
            if label == "io_uring":
                self.assertIn("io backend io_uring: io_uring works here", line)
                self.assertRegex(relay.output(), r"listening on .*, io_uring \(liburing [0-9.]+\), wslay")
            else:
                self.assertEqual(label, "epoll")
                self.assertIn("io backend epoll: io_uring is refused here: ", line)

    def test_a_bad_backend_is_refused(self):
        r = subprocess.run([binary(), "--io", "kqueue", "--listen", "127.0.0.1:%d" % free_port()],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--io", r.stderr)
        self.assertIn("want auto, io_uring or epoll", r.stderr)


class StalledReader(unittest.TestCase):
    """A client that stops reading: the relay's sends meet a full socket
    (EAGAIN, where epoll waits for its EPOLLOUT edge), the relay stays idle
    meanwhile, and every byte arrives once the client reads again, on both
    backends."""

    SIZE = 8 << 20

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="reflector-www-")
        self.body = os.urandom(self.SIZE)
        with open(os.path.join(self.tmp, "big.bin"), "wb") as f:
            f.write(self.body)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def check(self, io):
        with Relay("--io", io, "--www", self.tmp, log_level="info") as relay:
            self.assertIn("io backend %s:" % io, backend_line(relay))
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect((relay.host, relay.port))
            s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            # Within the 2 s a response's reader may stall (LINGER_MS,
            # relay/conn.c): its socket and ours fill up, then a second.
            time.sleep(0.4)
            cpu0, t0 = relay.cpu_seconds(), time.monotonic()
            time.sleep(1.0)
            cpu, window = relay.cpu_seconds() - cpu0, time.monotonic() - t0
            # Not spinning on EAGAIN: the shards sleep until there is room.
            self.assertLess(cpu, 0.05 * window, (io, cpu, window))
            s.settimeout(10)
            data = bytearray()
            while b"\r\n\r\n" not in data or len(data) < data.index(b"\r\n\r\n") + 4 + self.SIZE:
                chunk = s.recv(1 << 16)
                if not chunk:
                    break
                data += chunk
            s.close()
            head, _, body = bytes(data).partition(b"\r\n\r\n")
            self.assertTrue(head.startswith(b"HTTP/1.1 200"), head[:100])
            self.assertEqual(len(body), self.SIZE)
            self.assertEqual(body, self.body)

    def test_epoll(self):
        self.check("epoll")

    def test_io_uring(self):
        if io_label_of_auto() != "io_uring":
            self.skipTest("io_uring is refused on this machine")
        self.check("io_uring")


def io_label_of_auto():
    """The backend --io auto takes on this machine (from its start line)."""
    with Relay("--io", "auto", log_level="info") as relay:
        return backend_line(relay).split("io backend ", 1)[1].split(":", 1)[0]
