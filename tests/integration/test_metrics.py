"""GET /metrics on --metrics-listen: the Prometheus text format (parsed by
Debian's python3-prometheus-client), and counters that agree with the
traffic the test made: registrations and envelopes from real registered
clients (traffic.mjs), refusals, pings, HTTP errors."""
import json
import os
import re
import subprocess
import time
import unittest

from tests.lib.metrics import CONTENT_TYPE, get
from tests.lib.relayproc import ROOT, Relay, RelayTestCase, run_cli
from tests.lib.rawhttp import http_get
from tests.lib.syncws import ws_handshake, ws_open

# Every metric the README promises (sample names).
PROMISED = """
reflector_build_info process_resident_memory_bytes process_virtual_memory_bytes process_open_fds
process_max_fds process_cpu_seconds_total process_start_time_seconds reflector_connections
reflector_shard_connections reflector_shards reflector_queued_bytes reflector_crypto_queue_jobs
reflector_draining reflector_connections_accepted_total reflector_connections_refused_total
reflector_connections_closed_total reflector_registrations_total reflector_envelopes_total
reflector_messages_received_total reflector_bytes_received_total reflector_bytes_sent_total
reflector_ring_full_total reflector_slow_consumers_total reflector_config_reloads_total
reflector_registration_duration_seconds_bucket reflector_registration_duration_seconds_count
reflector_registration_duration_seconds_sum reflector_envelope_route_duration_seconds_bucket
reflector_envelope_route_duration_seconds_count reflector_envelope_route_duration_seconds_sum
""".split()
# Labels are few and bounded: never a SIG, an address or a connection.
LABELS = {"state", "shard", "reason", "code", "handler", "result", "le", "version", "mbedtls", "liburing",
          "wslay", "io"}


def wait_for(pred, timeout=5.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


class Format(RelayTestCase):
    RELAY_ARGS = ()

    @classmethod
    def setUpClass(cls):
        cls.relay = Relay(metrics=True, log_level="info")
        cls.port = cls.relay.port

    def test_text_format_0_0_4_every_family_documented(self):
        status, ctype, body = get(self.relay.host, self.relay.metrics_port)
        self.assertEqual(status, 200)
        self.assertEqual(ctype, CONTENT_TYPE)
        m = self.relay.scrape()
        self.assertTrue(set(PROMISED) <= m.names(), set(PROMISED) - m.names())
        for fam in m.families.values():
            self.assertTrue(fam.documentation, fam.name)
            self.assertIn(fam.type, ("counter", "gauge", "histogram"), fam.name)
            self.assertRegex(fam.name, r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
            for s in fam.samples:
                self.assertTrue(set(s.labels) <= LABELS, (s.name, s.labels))
        # Each family's HELP and TYPE once, right before its samples.
        helps = re.findall(r"^# HELP (\S+) ", body, re.M)
        self.assertEqual(len(helps), len(set(helps)))
        self.assertEqual(len(re.findall(r"^# TYPE ", body, re.M)), len(helps))

    def test_the_readme_names_every_metric(self):
        with open(os.path.join(ROOT, "README.md")) as f:
            readme = f.read()
        m = self.relay.scrape()
        for fam in m.families.values():
            name = fam.name + ("_total" if fam.type == "counter" else "")
            self.assertIn("`%s`" % name, readme, "README.md's Running in production does not name " + name)

    def test_build_info_and_the_process(self):
        m = self.relay.scrape()
        (labels, value), = m.series("reflector_build_info").items()
        labels = dict(labels)
        self.assertEqual(value, 1)
        self.assertEqual(labels["version"], run_cli("--version").stdout.split()[1])
        self.assertIn(labels["io"], ("io_uring", "epoll"))
        self.assertRegex(labels["mbedtls"], r"^\d+\.\d+\.\d+$")
        self.assertRegex(labels["liburing"], r"^\d+\.\d+")
        rss = m.value("process_resident_memory_bytes") / 1024
        self.assertLess(abs(rss - self.relay.rss_kib()), 0.2 * self.relay.rss_kib() + 512)
        self.assertLess(abs(m.value("process_open_fds") - self.relay.fds()), 3)
        self.assertGreater(m.value("process_max_fds"), 0)
        self.assertLess(abs(m.value("process_start_time_seconds") - (time.time() - (time.monotonic()
                            - self.relay.started))), 2)
        self.assertGreaterEqual(m.value("process_cpu_seconds_total"), 0)
        self.assertLessEqual(m.value("process_cpu_seconds_total"), self.relay.cpu_seconds() + 0.05)
        self.assertEqual(m.value("reflector_shards"), 2)
        self.assertEqual(m.value("reflector_draining"), 0)
        self.assertEqual(len(m.series("reflector_shard_connections")), 2)

    def test_only_get_metrics(self):
        h, p = self.relay.host, self.relay.metrics_port
        self.assertEqual(get(h, p, "/")[0], 404)
        self.assertEqual(get(h, p, "/metrics/x")[0], 404)
        self.assertEqual(get(h, p, "/metrics", method="POST")[0], 405)
        self.assertEqual(get(h, p, "/metrics?x=1")[0], 200)

    def test_the_public_port_does_not_serve_it(self):
        self.assertEqual(http_get(self.port, "/metrics").status, 404)


class Off(unittest.TestCase):
    def test_off_by_default(self):
        self.assertIn("--metrics-listen HOST:PORT", run_cli("--help").stdout)
        with Relay(log_level="info") as relay:
            self.assertFalse(relay.log_lines(r"metrics at "))
            # The relay's listening sockets (/proc/net/tcp, state 0A): its port alone.
            fd_dir = "/proc/%d/fd" % relay.pid
            inodes = {os.readlink(os.path.join(fd_dir, fd))[8:-1] for fd in os.listdir(fd_dir)
                      if os.readlink(os.path.join(fd_dir, fd)).startswith("socket:[")}
            ports = set()
            for table in ("/proc/net/tcp", "/proc/net/tcp6"):
                with open(table) as f:
                    for row in f.read().splitlines()[1:]:
                        cols = row.split()
                        if cols[3] == "0A" and cols[9] in inodes:
                            ports.add(int(cols[1].split(":")[1], 16))
            self.assertEqual(ports, {relay.port})

    def test_a_bad_address_fails_at_start(self):
        r = run_cli("--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:99999")
        self.assertEqual(r.returncode, 2)
        self.assertIn("metrics-listen", r.stderr)


class Counts(unittest.TestCase):
    def test_counters_agree_with_the_traffic(self):
        PAIRS, ENVELOPES, NOBODY, SPOOF, PINGS = 2, 25, 3, 2, 2
        with Relay("--max-conns", "6", metrics=True, log_level="info") as relay:
            # An HTTP error first, then wait until its connection is gone.
            self.assertEqual(http_get(relay.port, "/nope").status, 404)
            wait_for(lambda: sum(relay.scrape().series("reflector_shard_connections").values()) == 0,
                     what="the 404's connection to go")
            proc = subprocess.Popen(
                ["node", os.path.join(ROOT, "tests", "integration", "traffic.mjs"), relay.url, "--shards", "2",
                 "--pairs", str(PAIRS), "--envelopes", str(ENVELOPES), "--nobody", str(NOBODY),
                 "--spoof", str(SPOOF), "--pings", str(PINGS)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            try:
                line = proc.stdout.readline()
                res = json.loads(line)
                self.assertNotIn("error", res, res)
                self.assertEqual(res["other"], [])
                self.assertEqual(res["delivered"], PAIRS * ENVELOPES)
                self.assertEqual(res["accepted"], PAIRS * ENVELOPES)
                bad, _ = ws_open(relay.port)
                self.assertEqual(bad.request("{").get("error"), "BAD_JSON")
                other, _ = ws_open(relay.port)
                refused = ws_handshake(relay.port)  # the 7th: over --max-conns 6
                self.assertEqual(refused.status, 503)
                refused.abort()
                # The gauges follow at the shards' next tick.
                def settled():
                    m = relay.scrape()
                    return m if (m.value("reflector_connections", state="registered") == 2 * PAIRS and
                                 m.value("reflector_connections", state="websocket") == 2 * PAIRS + 2) else None
                m = wait_for(settled, what="the connection gauges")
                v = m.value
                self.assertEqual(v("reflector_envelopes_total", result="delivered"), PAIRS * ENVELOPES)
                self.assertEqual(v("reflector_envelopes_total", result="recipient_not_available"), PAIRS * NOBODY)
                self.assertEqual(v("reflector_envelopes_total", result="from_mismatch"), PAIRS * SPOOF)
                self.assertEqual(v("reflector_envelopes_total", result="rate_limited"), 0)
                self.assertEqual(v("reflector_registrations_total", result="verified"), 2 * PAIRS)
                self.assertEqual(v("reflector_registrations_total", result="busy"), 0)
                self.assertEqual(v("reflector_messages_received_total", handler="register3"), 2 * PAIRS)
                self.assertEqual(v("reflector_messages_received_total", handler="deliverEnvelop"),
                                 PAIRS * (ENVELOPES + NOBODY + SPOOF))
                self.assertEqual(v("reflector_messages_received_total", handler="ping"), 2 * PAIRS * PINGS)
                self.assertEqual(v("reflector_messages_refused_total", code="BAD_JSON"), 1)
                self.assertEqual(v("reflector_http_errors_total", code="404"), 1)
                self.assertEqual(v("reflector_connections_refused_total", reason="max_conns"), 1)
                self.assertEqual(v("reflector_connections_accepted_total"), 1 + 2 * PAIRS + 2)
                self.assertEqual(v("reflector_connections", state="websocket"), 2 * PAIRS + 2)
                self.assertEqual(sum(m.series("reflector_shard_connections").values()), 2 * PAIRS + 2)
                self.assertEqual(v("reflector_envelope_route_duration_seconds_count"), PAIRS * ENVELOPES)
                self.assertEqual(v("reflector_registration_duration_seconds_count"), 2 * PAIRS)
                self.assertGreater(v("reflector_registration_duration_seconds_sum"), 0)
                self.assertGreater(v("reflector_bytes_received_total"), 0)
                self.assertGreater(v("reflector_bytes_sent_total"), 0)
                for name in ("reflector_envelope_route_duration_seconds", "reflector_registration_duration_seconds"):
                    buckets = sorted(((float(dict(k)["le"]), val) for k, val in m.series(name + "_bucket").items()))
                    counts = [c for _, c in buckets]
                    self.assertEqual(counts, sorted(counts), name)  # cumulative
                    self.assertEqual(buckets[-1], (float("inf"), v(name + "_count")))
                bad.close()
                other.close()
            finally:
                proc.stdin.close()
                proc.wait(timeout=10)
        # The exit line's counters say the same.
        self.assertEqual(relay.count("envelopes_delivered"), PAIRS * ENVELOPES)


if __name__ == "__main__":
    unittest.main()
