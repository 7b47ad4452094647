"""The relay's GET /metrics, fetched over HTTP and parsed with the
reference parser (Debian's python3-prometheus-client), so a test checks
both that the text is valid exposition format 0.0.4 and what it says."""
import http.client

from prometheus_client.parser import text_string_to_metric_families

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Scrape:
    """One scrape: `families` by name (as the parser names them: a
    counter's without _total), `text`, and `value(sample, **labels)`."""

    def __init__(self, text, content_type):
        self.text = text
        self.content_type = content_type
        self.families = {f.name: f for f in text_string_to_metric_families(text)}
        self.samples = {}
        for fam in self.families.values():
            for s in fam.samples:
                self.samples[(s.name, frozenset(s.labels.items()))] = s.value

    def value(self, name, **labels):
        """The sample's value; KeyError when it is not there."""
        return self.samples[(name, frozenset(labels.items()))]

    def series(self, name):
        """{frozenset(labels): value} of every sample with that name."""
        return {labels: v for (n, labels), v in self.samples.items() if n == name}

    def names(self):
        """Every sample name served (with _total, _bucket, _sum, _count)."""
        return {n for n, _ in self.samples}


def get(host, port, path="/metrics", method="GET", timeout=5.0):
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path)
        r = conn.getresponse()
        return r.status, r.getheader("Content-Type"), r.read().decode("utf-8")
    finally:
        conn.close()


def scrape(host, port):
    status, ctype, body = get(host, port)
    if status != 200:
        raise AssertionError("GET /metrics: %d %s" % (status, body[:200]))
    return Scrape(body, ctype)
