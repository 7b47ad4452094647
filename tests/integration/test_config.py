"""Settings from a file (--config), REFLECTOR_<NAME> variables and flags,
in that order of precedence; `reflector check-config`; the example file
deploy/reflector.conf, made from the settings table, kept true."""
import os
import re
import tempfile
import unittest

from tests.lib.relayproc import ROOT, Relay, run_cli
from tests.lib.syncws import ws_open
from tests.lib.rawhttp import http_get

EXAMPLE = os.path.join(ROOT, "deploy", "reflector.conf")


def write_conf(text):
    f = tempfile.NamedTemporaryFile("w", prefix="reflector-", suffix=".conf", delete=False)
    f.write(text)
    f.close()
    return f.name


def checked(path, *args, env=None):
    """check-config's settings as {name: (value, origin)}, and the result."""
    import subprocess
    from tests.lib.relayproc import binary
    r = subprocess.run([binary(), "check-config", path, *args], capture_output=True, text=True, timeout=10,
                       env=dict(os.environ, **(env or {})), stdin=subprocess.DEVNULL)
    settings = {}
    for line in r.stdout.splitlines():
        m = re.match(r"^(\S+) = (.*?)\s+# (.*)$", line)
        if m:
            settings[m.group(1)] = (m.group(2), m.group(3))
    return settings, r


class ExampleFile(unittest.TestCase):
    def test_the_example_is_what_the_table_makes(self):
        r = run_cli("example-config")
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(EXAMPLE) as f:
            self.assertEqual(f.read(), r.stdout,
                             "deploy/reflector.conf differs from `reflector example-config`: "
                             "run build/reflector example-config > deploy/reflector.conf")

    def test_the_example_names_every_flag_with_its_default(self):
        help_flags = set(re.findall(r"^  --([a-z-]+) ", run_cli("--help").stdout, re.M)) - {"help", "version",
                                                                                               "config"}
        with open(EXAMPLE) as f:
            text = f.read()
        named = set(re.findall(r"^# ([a-z-]+) =", text, re.M))
        self.assertEqual(named, help_flags)

    def test_the_example_as_is_gives_the_defaults(self):
        settings, r = checked(EXAMPLE)
        self.assertEqual(r.returncode, 0, r.stderr)
        for name, (value, origin) in settings.items():
            if name != "config":
                self.assertTrue(origin.startswith("default"), (name, value, origin))

    def test_the_example_uncommented_is_valid_and_says_the_defaults(self):
        with open(EXAMPLE) as f:
            lines = f.read().splitlines()
        # Every "# name = value" line with a value, uncommented.
        out, expect = [], {}
        for line in lines:
            m = re.match(r"^# ([a-z-]+) = (\S+)$", line)
            if m:
                out.append("%s = %s" % m.groups())
                expect[m.group(1)] = m.group(2)
        path = write_conf("\n".join(out) + "\n")
        try:
            settings, r = checked(path)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertGreaterEqual(len(expect), 15)
            for name, value in expect.items():
                self.assertEqual(settings[name][0], value, name)
                self.assertTrue(settings[name][1].startswith("file %s:" % path), settings[name])
        finally:
            os.unlink(path)


class Sources(unittest.TestCase):
    def test_file_then_environment_then_flags(self):
        path = write_conf("# a comment\n\nmax-conns = 50\n  rate=20  \nping-interval = 7\n"
                          'on-duplicate = "reject"\n')
        try:
            settings, r = checked(path, "--ping-interval", "9",
                                  env={"REFLECTOR_RATE": "30", "REFLECTOR_PING_INTERVAL": "8"})
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(settings["max-conns"], ("50", "file %s:3; reloadable" % path))
            self.assertEqual(settings["rate"], ("30", "environment REFLECTOR_RATE; reloadable"))
            self.assertEqual(settings["ping-interval"], ("9", "flag --ping-interval; reloadable"))
            self.assertEqual(settings["on-duplicate"], ("reject", "file %s:6; reloadable" % path))
            self.assertEqual(settings["max-message"], ("4096", "default"))
            self.assertEqual(settings["config"][0], path)
        finally:
            os.unlink(path)

    def test_the_relay_runs_with_the_file(self):
        # max-conns 1 from the file: a second connection is refused with 503.
        # (At info the relay is known ready from its log, not by a connection.)
        path = write_conf("max-conns = 1\n")
        try:
            with Relay("--config", path, log_level="info") as relay:
                a, _ = ws_open(relay.port)
                self.assertEqual(http_get(relay.port, "/healthz").status, 503)
                a.close()
        finally:
            os.unlink(path)

    def test_reflector_config_names_the_file(self):
        path = write_conf("max-conns = 1\n")
        try:
            with Relay(env={"REFLECTOR_CONFIG": path}, log_level="info") as relay:
                a, _ = ws_open(relay.port)
                self.assertEqual(http_get(relay.port, "/healthz").status, 503)
                a.close()
        finally:
            os.unlink(path)

    def test_an_environment_variable_alone(self):
        with Relay(env={"REFLECTOR_MAX_CONNS": "1"}, log_level="info") as relay:
            a, _ = ws_open(relay.port)
            self.assertEqual(http_get(relay.port, "/healthz").status, 503)
            a.close()


class Refusals(unittest.TestCase):
    CASES = [
        ("max-conns = 10\nmax-conns = many\n", 2, "bad value for max-conns: 'many'"),
        ("threads = 2\nno-such-thing = 1\n", 2, "unknown setting 'no-such-thing'"),
        ("\n\n# x\nmax-conns 10\n", 4, "want name = value"),
        ("config = /etc/other.conf\n", 1, "cannot name another"),
        ("listen = 127.0.0.1\n", 1, "bad value for listen"),
        ("log-format = xml\n", 1, "bad value for log-format"),
    ]

    def test_a_bad_file_fails_with_its_line_number(self):
        for text, line, why in self.CASES:
            with self.subTest(text=text):
                path = write_conf(text)
                try:
                    for args in (["check-config", path], ["--config", path, "--listen", "127.0.0.1:1"]):
                        r = run_cli(*args)
                        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
                        lines = r.stderr.strip().splitlines()
                        self.assertEqual(len(lines), 1, r.stderr)
                        self.assertIn("%s:%d:" % (path, line), lines[0])
                        self.assertIn(why, lines[0])
                        self.assertEqual(r.stdout, "")
                finally:
                    os.unlink(path)

    def test_a_missing_file(self):
        r = run_cli("check-config", "/nonexistent/reflector.conf")
        self.assertEqual(r.returncode, 2)
        self.assertIn("/nonexistent/reflector.conf", r.stderr)
        r = run_cli("check-config")
        self.assertEqual(r.returncode, 2)
        self.assertIn("usage", r.stderr)

    def test_check_config_checks_the_key_and_the_web_root(self):
        path = write_conf("key = /nonexistent/key.pem\n")
        try:
            r = run_cli("check-config", path)
            self.assertEqual(r.returncode, 2)
            self.assertIn("/nonexistent/key.pem", r.stderr)
        finally:
            os.unlink(path)
        path = write_conf("www = /nonexistent/www\n")
        try:
            r = run_cli("check-config", path)
            self.assertEqual(r.returncode, 2)
            self.assertIn("/nonexistent/www", r.stderr)
        finally:
            os.unlink(path)

    def test_bad_or_unknown_environment_variables(self):
        import subprocess
        from tests.lib.relayproc import binary, free_port
        for env, name in (({"REFLECTOR_MAX_CONNS": "zero"}, "REFLECTOR_MAX_CONNS"),
                          ({"REFLECTOR_MAX_CONN": "5"}, "REFLECTOR_MAX_CONN")):
            with self.subTest(env=env):
                r = subprocess.run([binary(), "--listen", "127.0.0.1:%d" % free_port()], capture_output=True,
                                   text=True, timeout=10, env=dict(os.environ, **env), stdin=subprocess.DEVNULL)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(name, r.stderr)
                self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)


if __name__ == "__main__":
    unittest.main()
