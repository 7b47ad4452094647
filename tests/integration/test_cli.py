"""Command line: --help, --version, and refusal of bad flags/values."""
import re
import subprocess
import unittest

from tests.lib.relayproc import free_port, run_cli

FLAGS = ["--listen", "--threads", "--www", "--max-message", "--max-conns", "--ping-interval",
         "--log-level", "--drain-timeout", "--handshake-timeout", "--key"]


class HelpAndVersion(unittest.TestCase):
    def test_help_lists_every_flag_and_exits_0(self):
        r = run_cli("--help")
        self.assertEqual(r.returncode, 0, r.stderr)
        for flag in FLAGS + ["--help", "--version"]:
            self.assertIn(flag, r.stdout, f"--help output does not mention {flag}")

    def test_version(self):
        r = run_cli("--version")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout.strip(), r"^reflector \S+$")
        self.assertRegex(r.stdout.strip(), r"^reflector \d+\.\d+\.\d+")


class BadArguments(unittest.TestCase):
    # (args, the flag the one stderr line must name). A free port is added to
    # every case that does not test --listen, so a relay that wrongly starts
    # never grabs a fixed port; run_cli's timeout fails such a case.
    CASES = [
        (["--bogus"], "bogus"),
        (["--threads", "0"], "threads"),
        (["--threads", "abc"], "threads"),
        (["--threads", "-3"], "threads"),
        (["--threads"], "threads"),
        (["--listen", "nonsense"], "listen"),
        (["--listen", "127.0.0.1:99999"], "listen"),
        (["--listen", "127.0.0.1:"], "listen"),
        (["--max-message", "-1"], "max-message"),
        (["--max-message", "12x"], "max-message"),
        (["--max-conns", "many"], "max-conns"),
        (["--ping-interval", "0"], "ping-interval"),
        (["--ping-interval", "abc"], "ping-interval"),
        (["--log-level", "loud"], "log-level"),
        (["--drain-timeout", "x"], "drain-timeout"),
        (["--handshake-timeout", "-1"], "handshake-timeout"),
    ]

    def test_bad_flags_exit_2_with_one_stderr_line(self):
        for args, flag in self.CASES:
            with self.subTest(args=args):
                full = list(args)
                if flag != "listen":
                    full = ["--listen", f"127.0.0.1:{free_port()}"] + full
                try:
                    r = run_cli(*full, timeout=5)
                except subprocess.TimeoutExpired:
                    self.fail(f"{args}: relay started instead of refusing the arguments")
                self.assertEqual(r.returncode, 2, f"{args}: exit {r.returncode}, stderr {r.stderr!r}")
                lines = r.stderr.strip("\n").split("\n") if r.stderr.strip() else []
                self.assertEqual(len(lines), 1, f"{args}: stderr should be one line: {r.stderr!r}")
                self.assertIn(flag, lines[0], f"{args}: stderr does not name {flag}: {lines[0]!r}")

