"""deploy/grafana/reflector.json: a well-formed Grafana dashboard whose
every query names metrics (and labels) that a running relay's /metrics
actually serves. Grafana itself is not a Debian package; this checks the
file against the real endpoint instead."""
import json
import os
import re
import unittest

from tests.lib.relayproc import ROOT, Relay

DASHBOARD = os.path.join(ROOT, "deploy", "grafana", "reflector.json")
METRIC = re.compile(r"\b((?:reflector|process)_[a-z0-9_]+)\b")
BY = re.compile(r"\bby \(([^)]*)\)")
MATCHER = re.compile(r'([a-z_]+)\s*(?:=~|!=|!~|=)\s*"')
# Labels Prometheus adds to every series it scrapes, and histograms' le.
ADDED = {"instance", "job", "le"}


class Dashboard(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(DASHBOARD) as f:
            cls.dash = json.load(f)
        with Relay(metrics=True, log_level="info") as relay:
            cls.scrape = relay.scrape()

    def test_structure(self):
        d = self.dash
        self.assertEqual(d["uid"], "reflector")
        self.assertIsInstance(d["schemaVersion"], int)
        names = [v["name"] for v in d["templating"]["list"]]
        self.assertEqual(names, ["datasource", "instance"])
        ids = [p["id"] for p in d["panels"]]
        self.assertEqual(len(ids), len(set(ids)))
        for p in d["panels"]:
            self.assertIn(p["type"], ("timeseries", "stat"), p["title"])
            g = p["gridPos"]
            self.assertTrue(0 <= g["x"] and g["x"] + g["w"] <= 24 and g["h"] > 0, p["title"])
            self.assertTrue(p["targets"], p["title"])
            refs = [t["refId"] for t in p["targets"]]
            self.assertEqual(len(refs), len(set(refs)), p["title"])
        # No two panels overlap on the 24-column grid.
        cells = set()
        for p in d["panels"]:
            g = p["gridPos"]
            for x in range(g["x"], g["x"] + g["w"]):
                for y in range(g["y"], g["y"] + g["h"]):
                    self.assertNotIn((x, y), cells, p["title"])
                    cells.add((x, y))

    def test_what_the_issue_asks_for_is_there(self):
        exprs = " ".join(t["expr"] for p in self.dash["panels"] for t in p["targets"])
        for needed in ("reflector_connections", "reflector_envelopes_total", "reflector_registration_duration_seconds",
                       "reflector_envelope_route_duration_seconds", "process_resident_memory_bytes",
                       "reflector_connections_refused_total"):
            self.assertIn(needed, exprs)
        self.assertIn("histogram_quantile(0.99, sum by (le) (rate(reflector_registration_duration_seconds_bucket",
                      exprs)
        self.assertIn("histogram_quantile(0.5, sum by (le) (rate(reflector_registration_duration_seconds_bucket",
                      exprs)

    def test_every_query_names_served_metrics_and_labels(self):
        served = self.scrape.names()
        labels_of = {}
        for (name, labels), _ in self.scrape.samples.items():
            labels_of.setdefault(name, set()).update(k for k, _ in labels)
        for p in self.dash["panels"]:
            for t in p["targets"]:
                expr = t["expr"]
                names = METRIC.findall(expr)
                self.assertTrue(names, expr)
                known = set()
                for n in names:
                    self.assertIn(n, served, "%s: %s is not served by /metrics" % (p["title"], n))
                    known |= labels_of[n]
                for group in BY.findall(expr):
                    for label in (x.strip() for x in group.split(",")):
                        self.assertIn(label, known | ADDED, "%s: no label %s" % (p["title"], label))
                for label in MATCHER.findall(expr):
                    self.assertIn(label, known | ADDED, "%s: no label %s" % (p["title"], label))
                for legend_label in re.findall(r"\{\{(\w+)\}\}", t.get("legendFormat", "")):
                    self.assertIn(legend_label, known | ADDED, p["title"])
                # Balanced parentheses and braces.
                self.assertEqual(expr.count("("), expr.count(")"), expr)
                self.assertEqual(expr.count("{"), expr.count("}"), expr)


if __name__ == "__main__":
    unittest.main()
