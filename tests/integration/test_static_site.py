"""The static side as a site server: HEAD, index.html for /dir/ and /dir
redirected to /dir/, ETag and Last-Modified with 304, Cache-Control by
kind of name, precompressed .br/.gz siblings chosen by Accept-Encoding
(with Vary), the security headers, and a file streamed under the backlog
rule (a reader that stops reading holds a window, not the file)."""
import email.utils
import gzip
import os
import shutil
import socket
import tempfile
import time
import unittest

from tests.lib.rawhttp import http_get
from tests.lib.relayproc import ROOT, RelayTestCase, Relay

PAGE = b"<!doctype html><title>site</title><p>hello</p>\n"
SCRIPT = b"console.log('plain');\n" * 50
HASHED = b"console.log('hashed');\n"
CSP = ("default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; "
       "script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")


def put(root, name, data):
    path = os.path.join(root, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return path


class Site(RelayTestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="reflector-site-")
        cls.www = os.path.join(cls.tmp, "www")
        put(cls.www, "index.html", PAGE)
        put(cls.www, "docs/index.html", b"<p>docs</p>\n")
        put(cls.www, "app.js", SCRIPT)
        put(cls.www, "app.js.br", b"BROTLI-BYTES")
        put(cls.www, "app.js.gz", gzip.compress(SCRIPT))
        put(cls.www, "only-gz.css", b"p { color: red }\n")
        put(cls.www, "only-gz.css.gz", gzip.compress(b"p { color: red }\n"))
        put(cls.www, "main.3f9a2b7c.js", HASHED)
        put(cls.www, "chunk-5FQ2ABCD.js", HASHED)
        put(cls.www, "big.bin", os.urandom(8 << 20))
        # A sibling that leads outside the root is not served.
        put(cls.tmp, "outside.gz", b"TOP-SECRET")
        put(cls.www, "leak.txt", b"inside\n")
        os.symlink(os.path.join(cls.tmp, "outside.gz"), os.path.join(cls.www, "leak.txt.gz"))
        cls.RELAY_ARGS = ("--www", cls.www)
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def get(self, path, method="GET", **headers):
        return http_get(self.port, path, method=method, headers={k.replace("_", "-"): v for k, v in headers.items()})

    def test_head_has_the_headers_and_no_body(self):
        g = self.get("/app.js")
        h = self.get("/app.js", method="HEAD")
        self.assertEqual(h.status, 200)
        self.assertEqual(h.body, b"")
        for name in ("content-type", "content-length", "etag", "last-modified", "cache-control"):
            self.assertEqual(h.header(name), g.header(name), name)
        self.assertEqual(int(h.header("content-length")), len(SCRIPT))
        self.assertEqual(self.get("/nope", method="HEAD").status, 404)
        r = self.get("/app.js", method="PUT")
        self.assertEqual(r.status, 405)
        self.assertEqual(r.header("allow"), "GET, HEAD")

    def test_directory_index_and_redirect(self):
        r = self.get("/docs/")
        self.assertEqual((r.status, r.body), (200, b"<p>docs</p>\n"))
        r = self.get("/docs")
        self.assertEqual(r.status, 301)
        self.assertEqual(r.header("location"), "/docs/")
        r = self.get("/docs?x=1")
        self.assertEqual((r.status, r.header("location")), (301, "/docs/?x=1"))
        self.assertEqual(self.get("/").body, PAGE)
        self.assertEqual(self.get("/missing-dir").status, 404)

    def test_etag_and_304(self):
        r = self.get("/app.js")
        etag, modified = r.header("etag"), r.header("last-modified")
        self.assertRegex(etag, r'^"[0-9a-f]+-[0-9a-f]+"$')
        mtime = os.stat(os.path.join(self.www, "app.js")).st_mtime
        self.assertEqual(email.utils.parsedate_to_datetime(modified).timestamp(), int(mtime))
        r = self.get("/app.js", If_None_Match=etag)
        self.assertEqual((r.status, r.body), (304, b""))
        self.assertEqual(r.header("etag"), etag)
        self.assertEqual(self.get("/app.js", If_None_Match=f'"x", W/{etag}').status, 304, "weak comparison, lists")
        self.assertEqual(self.get("/app.js", If_None_Match="*").status, 304)
        self.assertEqual(self.get("/app.js", If_None_Match='"other"').status, 200)
        # If-Modified-Since: the same date or later is not modified.
        self.assertEqual(self.get("/app.js", If_Modified_Since=modified).status, 304)
        earlier = email.utils.formatdate(int(mtime) - 10, usegmt=True)
        self.assertEqual(self.get("/app.js", If_Modified_Since=earlier).status, 200)
        self.assertEqual(self.get("/app.js", If_Modified_Since="yesterday").status, 200)
        # If-None-Match decides when both are given.
        self.assertEqual(self.get("/app.js", If_None_Match='"other"', If_Modified_Since=modified).status, 200)
        # A new version gets a new ETag.
        path = os.path.join(self.www, "index.html")
        before = self.get("/index.html").header("etag")
        os.utime(path, (mtime + 5, mtime + 5))
        self.assertNotEqual(self.get("/index.html").header("etag"), before)
        self.assertEqual(self.get("/index.html", If_None_Match=before).status, 200)

    def test_cache_control(self):
        self.assertEqual(self.get("/").header("cache-control"), "no-cache")
        self.assertEqual(self.get("/app.js").header("cache-control"), "public, max-age=60")
        for name in ("/main.3f9a2b7c.js", "/chunk-5FQ2ABCD.js"):
            self.assertEqual(self.get(name).header("cache-control"), "public, max-age=31536000, immutable", name)

    def test_precompressed_siblings(self):
        r = self.get("/app.js", Accept_Encoding="gzip, deflate, br")
        self.assertEqual((r.header("content-encoding"), r.body), ("br", b"BROTLI-BYTES"))
        self.assertEqual(r.header("content-type").split(";")[0], "text/javascript")
        self.assertEqual(r.header("vary"), "Accept-Encoding")
        r = self.get("/app.js", Accept_Encoding="gzip")
        self.assertEqual(r.header("content-encoding"), "gzip")
        self.assertEqual(gzip.decompress(r.body), SCRIPT)
        r = self.get("/app.js", Accept_Encoding="br;q=0, gzip;q=0.5")
        self.assertEqual(r.header("content-encoding"), "gzip", "q=0 refuses br")
        r = self.get("/app.js")
        self.assertIsNone(r.header("content-encoding"))
        self.assertEqual(r.body, SCRIPT)
        self.assertEqual(r.header("vary"), "Accept-Encoding")
        r = self.get("/only-gz.css", Accept_Encoding="br, gzip")
        self.assertEqual(r.header("content-encoding"), "gzip")
        # Each representation has its own ETag.
        etags = {self.get("/app.js", Accept_Encoding=ae).header("etag") for ae in ("br", "gzip", "identity")}
        self.assertEqual(len(etags), 3)
        r = self.get("/leak.txt", Accept_Encoding="gzip")
        self.assertEqual((r.header("content-encoding"), r.body), (None, b"inside\n"))

    def test_security_headers(self):
        for path in ("/", "/app.js"):
            r = self.get(path)
            self.assertEqual(r.header("content-security-policy"), CSP)
            self.assertEqual(r.header("x-content-type-options"), "nosniff")
            self.assertEqual(r.header("referrer-policy"), "no-referrer")
            self.assertEqual(r.header("cross-origin-opener-policy"), "same-origin")

    def test_demo_page_has_no_inline_script_or_style(self):
        """The CSP forbids inline script and style: the demo page has none."""
        demo = os.path.join(ROOT, "proto", "js", "demo")
        for name in os.listdir(demo):
            if name.endswith(".html"):
                with open(os.path.join(demo, name), "rb") as f:
                    text = f.read().lower()
                self.assertNotRegex(text, rb"<script(?![^>]*\bsrc=)", name)
                self.assertNotIn(b"<style", text, name)
                self.assertNotRegex(text, rb"\sstyle=|\son[a-z]+=", name)


class Streaming(unittest.TestCase):
    def test_a_reader_that_stops_holds_a_window_not_the_file(self):
        tmp = tempfile.mkdtemp(prefix="reflector-stream-")
        try:
            put(tmp, "big.bin", os.urandom(32 << 20))
            with Relay("--www", tmp, "--max-queued", "65536", threads=1, metrics=True) as relay:
                s = socket.create_connection(("127.0.0.1", relay.port))
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
                time.sleep(1.0)
                queued = relay.scrape().value("reflector_queued_bytes")
                self.assertLessEqual(queued, 65536, "more than --max-queued of the file held")
                # The relay drops a reader making no progress.
                s.settimeout(0.2)
                deadline = time.monotonic() + 10
                closed = False
                got = 0
                # Not reading until the relay has given up: then what is left arrives and EOF.
                time.sleep(4)
                while time.monotonic() < deadline:
                    try:
                        piece = s.recv(1 << 20)
                    except socket.timeout:
                        continue
                    except ConnectionResetError:
                        closed = True
                        break
                    if not piece:
                        closed = True
                        break
                    got += len(piece)
                s.close()
                self.assertTrue(closed, "a stalled download kept open")
                self.assertLess(got, 32 << 20)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
