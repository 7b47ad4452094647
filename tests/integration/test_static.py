"""Static files from --www DIR: types, lengths, bytes, and never a byte from
outside DIR."""
import os
import shutil
import tempfile
import unittest

from tests.lib.rawhttp import http_get, http_raw
from tests.lib.relayproc import ROOT, Relay, RelayTestCase
from tests.lib.wire import Closed

SECRET = b"TOP-SECRET-OUTSIDE-WWW\n"

FILES = {
    "index.html": (b"<!doctype html><title>t</title><p>index page</p>\n", "text/html"),
    "app.js": (b"console.log('hi');\n", "text/javascript"),
    "style.css": (b"body { color: red }\n", "text/css"),
    "data.json": (b'{"a": [1, 2, 3]}\n', "application/json"),
    "icon.svg": (b'<svg xmlns="http://www.w3.org/2000/svg"/>\n', "image/svg+xml"),
    "img.png": (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "image/png"),
    "blob.xyz": (b"\x00\x01binary\xff", "application/octet-stream"),
    "noext": (b"no extension\n", "application/octet-stream"),
    "sub/inner.css": (b"p{}\n", "text/css"),
}


def media_type(value):
    return (value or "").split(";")[0].strip().lower()


class Static(RelayTestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="reflector-www-")
        cls.www = os.path.join(cls.tmp, "www")
        os.makedirs(os.path.join(cls.www, "sub"))
        os.makedirs(os.path.join(cls.www, "emptydir"))
        os.makedirs(os.path.join(cls.www, "a"))
        for name, (data, _) in FILES.items():
            with open(os.path.join(cls.www, name), "wb") as f:
                f.write(data)
        cls.big = os.urandom(1024 * 1024 + 12345)
        with open(os.path.join(cls.www, "big.png"), "wb") as f:
            f.write(cls.big)
        # Outside the web root: a secret beside www/, and links to it inside.
        with open(os.path.join(cls.tmp, "secret.txt"), "wb") as f:
            f.write(SECRET)
        os.makedirs(os.path.join(cls.tmp, "outdir"))
        with open(os.path.join(cls.tmp, "outdir", "secret.txt"), "wb") as f:
            f.write(SECRET)
        os.symlink(os.path.join(cls.tmp, "secret.txt"), os.path.join(cls.www, "link.txt"))
        os.symlink("../secret.txt", os.path.join(cls.www, "rellink.html"))
        os.symlink(os.path.join(cls.tmp, "outdir"), os.path.join(cls.www, "linkdir"))
        cls.RELAY_ARGS = ("--www", cls.www)
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def get(self, path, **kw):
        return http_get(self.port, path, **kw)

    def assert_served(self, path, data, ctype):
        r = self.get(path)
        self.assertEqual(r.status, 200, f"{path}: {r}")
        self.assertEqual(media_type(r.header("content-type")), ctype, f"{path}: {r.headers}")
        self.assertIsNotNone(r.header("content-length"), f"{path}: no Content-Length")
        self.assertEqual(int(r.header("content-length")), len(data), path)
        self.assertEqual(r.body, data, path)

    def test_types_lengths_bytes(self):
        for name, (data, ctype) in FILES.items():
            with self.subTest(name=name):
                self.assert_served("/" + name, data, ctype)

    def test_root_is_index_html(self):
        self.assert_served("/", FILES["index.html"][0], "text/html")

    def test_query_string_ignored(self):
        self.assert_served("/index.html?v=3", FILES["index.html"][0], "text/html")

    def test_large_file_bytes_exact(self):
        self.assert_served("/big.png", self.big, "image/png")

    def test_many_requests_in_a_row(self):
        for i in range(50):
            r = self.get("/app.js")
            self.assertEqual(r.status, 200, i)
            self.assertEqual(r.body, FILES["app.js"][0])

    def test_healthz_still_answers(self):
        r = self.get("/healthz")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.body.startswith(b"ok"))

    def test_missing_file_404(self):
        for path in ["/nope.html", "/sub/nope.css", "/index.html/x"]:
            with self.subTest(path=path):
                self.assertEqual(self.get(path).status, 404)

    def test_directory_without_index_404(self):
        for path in ["/emptydir", "/emptydir/", "/sub", "/sub/"]:
            with self.subTest(path=path):
                r = self.get(path)
                self.assertEqual(r.status, 404, r)

    def test_never_outside_root(self):
        paths = ["/../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E/secret.txt",
                 "/a/%2E%2E/%2e%2e/secret.txt", "/a/../../secret.txt", "/..%2fsecret.txt",
                 "/..%2Fsecret.txt", "/%2e%2e%2fsecret.txt", "/sub/..%2f..%2fsecret.txt",
                 "/..\\secret.txt", "/..%5csecret.txt", "//../secret.txt",
                 "/link.txt", "/rellink.html", "/linkdir/secret.txt", "/linkdir/",
                 "/index.html%00.png", "/%00", "/%00/../secret.txt", "/sub/%00inner.css",
                 "/" + "../" * 12 + "etc/passwd", "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd"]
        for path in paths:
            with self.subTest(path=path):
                r = self.get(path)
                self.assertNotIn(b"TOP-SECRET", r.body, f"{path} leaked a file outside --www")
                self.assertNotIn(b"root:", r.body, f"{path} leaked /etc/passwd")
                self.assertEqual(r.status, 404, f"{path}: {r}")

    def test_absolute_form_and_odd_targets(self):
        for target in ["*", "secret.txt", "../secret.txt"]:
            with self.subTest(target=target):
                try:
                    r = http_raw(self.port, f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                except Closed:
                    continue  # refusing by closing is fine
                self.assertNotIn(b"TOP-SECRET", r.body)
                self.assertGreaterEqual(r.status, 400, r)

    def test_post_is_405(self):
        r = self.get("/index.html", method="POST", body=b"x=1")
        self.assertEqual(r.status, 405, r)

    def test_other_methods_are_405(self):
        for m in ["PUT", "DELETE", "PATCH"]:
            with self.subTest(method=m):
                self.assertEqual(self.get("/index.html", method=m).status, 405)


class DemoPage(unittest.TestCase):
    """The placeholder demo page in proto/js/demo serves as a web root."""

    def test_demo_index(self):
        www = os.path.join(ROOT, "proto", "js", "demo")
        with open(os.path.join(www, "index.html"), "rb") as f:
            data = f.read()
        with Relay("--www", www) as relay:
            r = http_get(relay.port, "/")
        self.assertEqual(r.status, 200)
        self.assertEqual(media_type(r.header("content-type")), "text/html")
        self.assertEqual(r.body, data)
        self.assertIn(b"<title>Reflector</title>", r.body)
