#!/usr/bin/env python3
"""Writes the seed corpora in tests/fuzz/corpus/<target>/ (committed; run
again only to change them). Each seed is a meaningful input in the layout
its target's header comment gives. Usage: make_corpus.py [SHARED_DIR]
(default ../shared: the interop vectors give real register3 replies).
"""
import hashlib
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SHARED = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared")
T1_BASE = 1764000000000


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---------------------------------------------------------------- http
# byte 0: head limit (0 -> 8192), bytes 1-2: the cut offset.

def http_seed(name, head, limit=0, cut=None):
    if isinstance(head, str):
        head = head.encode()
    c = len(head) // 2 if cut is None else cut
    write("http", name, bytes([limit]) + struct.pack("<H", c & 0xFFFF) + head)


UPGRADE = ("GET /chat HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           "Sec-WebSocket-Version: 13\r\n")

http_seed("upgrade", UPGRADE + "\r\n")
http_seed("upgrade-protocol", UPGRADE + "Sec-WebSocket-Protocol: chat, simpatico.v1\r\n\r\n")
http_seed("upgrade-then-frame", UPGRADE + "\r\n" + "\x81\x85\x00\x00\x00\x00hello", cut=10)
http_seed("healthz", "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
http_seed("post", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
http_seed("chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
http_seed("repeated-key", UPGRADE + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
http_seed("list-headers", "GET / HTTP/1.1\r\nConnection: keep-alive\r\nConnection: Upgrade\r\n"
          "Upgrade: h2c, websocket\r\nsec-websocket-version: 13\r\nSEC-WEBSOCKET-KEY: AQIDBAUGBwgJCgsMDQ4PEA==\r\n\r\n")
http_seed("http10", "GET / HTTP/1.0\r\n\r\n")
http_seed("bad-method", "G@T / HTTP/1.1\r\n\r\n")
http_seed("bad-version", "GET / HTTP/9.9\r\n\r\n")
http_seed("obs-fold", "GET / HTTP/1.1\r\nUpgrade: websocket\r\n  continued\r\n\r\n")
http_seed("bare-lf", "GET / HTTP/1.1\nHost: x\n\n")
http_seed("long-url", "GET /" + "a" * 3000 + " HTTP/1.1\r\n\r\n")
http_seed("long-value", "GET / HTTP/1.1\r\nUpgrade: " + "w" * 300 + "\r\n\r\n")
http_seed("long-field", "GET / HTTP/1.1\r\nX-" + "f" * 100 + ": 1\r\n\r\n")
http_seed("small-limit", UPGRADE + "\r\n", limit=1)
http_seed("many-headers", "GET / HTTP/1.1\r\n" + "".join("X-%d: %d\r\n" % (i, i) for i in range(200)) + "\r\n")
http_seed("nul-in-url", b"GET /a\x00b HTTP/1.1\r\n\r\n")
http_seed("utf8-url", "GET /\u00e9t\u00e9 HTTP/1.1\r\n\r\n")

# ---------------------------------------------------------------- ws
# byte 0: max-message choice (bits 0-1) | number of cuts << 2; cuts: 2 bytes each.

def frame(opcode, payload=b"", fin=True, rsv=0, mask=b"\x00\x00\x00\x00", length=None):
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    m = 0x80 if mask is not None else 0
    if n < 126:
        h = bytes([b0, m | n])
    elif n < 65536:
        h = bytes([b0, m | 126]) + struct.pack("!H", n)
    else:
        h = bytes([b0, m | 127]) + struct.pack("!Q", n)
    if mask is None:
        return h + payload
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return h + mask + body


def ws_seed(name, data, limit=0, cuts=()):
    cuts = list(cuts)[:7]
    write("ws", name, bytes([limit | (len(cuts) << 2)]) + b"".join(struct.pack("<H", c) for c in cuts) + data)


K = b"\x37\xfa\x21\x3d"
ws_seed("text", frame(1, '{"handler":"ping","t":1}'))
ws_seed("text-masked", frame(1, '{"handler":"ping","t":1}', mask=K), cuts=[1, 2, 6, 9])
ws_seed("fragments", frame(1, "Hel", fin=False, mask=K) + frame(0, "lo, ", fin=False, mask=K)
        + frame(0, "world", mask=K), cuts=[3, 12])
ws_seed("ping-inside-message", frame(1, "ab", fin=False) + frame(9, "p") + frame(0, "cd"))
ws_seed("ping-pong", frame(9, "ping payload") + frame(10, "pong"))
ws_seed("close-code-reason", frame(8, struct.pack("!H", 1000) + "bye \u00e9".encode()))
ws_seed("close-empty", frame(8))
ws_seed("close-bad-code", frame(8, struct.pack("!H", 1005)))
ws_seed("close-one-byte", frame(8, b"\x03"))
ws_seed("binary", frame(2, b"\x00\x01\x02"))
ws_seed("rsv", frame(1, "x", rsv=4))
ws_seed("unmasked", frame(1, "x", mask=None))
ws_seed("reserved-opcode", frame(3, "x"))
ws_seed("control-fragmented", frame(9, "x", fin=False))
ws_seed("control-too-long", frame(9, b"a" * 126))
ws_seed("len16", frame(1, "a" * 300, mask=K), cuts=[2, 4, 8])
ws_seed("len64-partial", frame(1, b"", length=70000, mask=K) + b"b" * 200, limit=3, cuts=[10, 100])
ws_seed("too-big-announced", frame(1, b"", length=1 << 40))
ws_seed("too-big-fragments", b"".join(frame(1 if i == 0 else 0, "a" * 40, fin=(i == 3)) for i in range(4)), limit=1)
ws_seed("exact-limit", frame(1, "a" * 125), limit=1)
ws_seed("bad-utf8", frame(1, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited"))
ws_seed("utf8-split-across-fragments", frame(1, b"\xe2\x82", fin=False) + frame(0, b"\xac"), cuts=[4, 7])
ws_seed("utf8-truncated-at-end", frame(1, b"ok\xe2\x82"))
ws_seed("continuation-first", frame(0, "x"))
ws_seed("text-inside-text", frame(1, "a", fin=False) + frame(1, "b"))
ws_seed("empty-fragments", frame(1, b"", fin=False) + frame(0, b"", fin=False) * 5 + frame(0, b"{}"))
ws_seed("many-messages", b"".join(frame(1, '{"n":%d}' % i, mask=K) for i in range(40)), cuts=[7, 100, 101, 250])
ws_seed("header-only", frame(1, b"", length=10))

# ---------------------------------------------------------------- message and proof
vectors = json.load(open(os.path.join(SHARED, "vectors", "registration.json")))
env = vectors["envelope"]["deliver"]


def message_seed(name, obj_or_text):
    text = obj_or_text if isinstance(obj_or_text, str) else json.dumps(obj_or_text, separators=(",", ":"))
    write("message", name, text.encode())


# The 2025 dialect: the interop vectors' CHALLENGE_RESPONSE envelopes and
# MESSAGE envelopes shaped like them.
with open(os.path.join(ROOT, "tests", "vectors", "x25519.json")) as f:
    x25519 = json.load(f)
for case in x25519["cases"][:2]:
    message_seed("d25-" + case["name"], case["envelope"])
d25 = dict(x25519["cases"][0]["envelope"], type="MESSAGE")
message_seed("d25-message", d25)
message_seed("d25-no-message", {k: v for k, v in d25.items() if k != "message"})
message_seed("d25-bad-nonce", dict(d25, nonce="short"))
message_seed("d25-escaped-from", json.dumps(d25).replace(d25["from"][-1] + '"', "\\u%04x\"" % ord(d25["from"][-1]), 1))
message_seed("deliver", env)
message_seed("deliver-id-number", dict(env, id=42))
message_seed("deliver-id-string", dict(env, id="m-1"))
message_seed("deliver-with-pem", dict(env, fromPublicKeyPem=vectors["server"]["publicKeyPem"]))
message_seed("deliver-escaped-handler", json.dumps(env).replace('"deliverEnvelop"', '"deliv\\u0065rEnvelop"'))
message_seed("deliver-spaced", json.dumps(env, indent=2))
message_seed("deliver-bad-to", dict(env, to="short", id=7))
message_seed("deliver-odd-box", dict(env, box="abc"))
message_seed("deliver-duplicate-escaped-key",
             '{"handler":"deliverEnvelop","from":"%s","fr\\u006fm":"%s","to":"%s","box":"00"}'
             % (env["from"], env["to"], env["to"]))
message_seed("ping", {"handler": "ping", "t": 123})
message_seed("ping-nested", {"handler": "ping", "t": {"a": [1, 2.5e-3, None, True, "\u00e9\ud83d\ude00"]}})
message_seed("invite3", {"handler": "invite3", "publicKeySig": env["to"]})
message_seed("unknown-handler", {"handler": "hello"})
message_seed("no-handler", {"t": 1})
message_seed("bad-json-trailing", '{"handler":"ping"} x')
message_seed("bad-number", '{"handler":"ping","t":01}')
message_seed("lone-surrogate", '{"handler":"ping","t":"\\ud800"}')
for case in vectors["cases"]:
    message_seed("register3-" + case["name"], case["response"])

for case in vectors["cases"]:
    r = case["response"]
    fields = []
    for k in ("publicKey", "publicKeySig", "clearText", "cypherText"):
        v = r.get(k)
        fields.append(v.encode() if isinstance(v, str) else json.dumps(v).encode() if v is not None else b"")
    t1 = (case["t1"] - T1_BASE) & 15
    write("proof", case["name"], bytes([t1]) + b"\xff".join(fields))

# ---------------------------------------------------------------- proxy
# byte 0: the reader's piece size (1 + byte % 64), bytes 1-2: the cut offset.

V2_SIG = b"\x0d\x0a\x0d\x0a\x00\x0d\x0a\x51\x55\x49\x54\x0a"


def proxy_seed(name, header, rest=b"GET / HTTP/1.1\r\n\r\n", piece=0, cut=None):
    if isinstance(header, str):
        header = header.encode()
    data = header + rest
    c = len(header) // 2 if cut is None else cut
    write("proxy", name, bytes([piece]) + struct.pack("<H", c & 0xFFFF) + data)


def v2(ver_cmd, fam, body):
    return V2_SIG + bytes([ver_cmd, fam]) + struct.pack(">H", len(body)) + body


TCP4 = bytes([192, 0, 2, 1, 198, 51, 100, 2]) + struct.pack(">HH", 51000, 443)
TCP6 = bytes(range(16)) + bytes(range(16, 32)) + struct.pack(">HH", 4660, 80)

proxy_seed("v1-tcp4", "PROXY TCP4 192.0.2.1 198.51.100.2 51000 443\r\n")
proxy_seed("v1-tcp6", "PROXY TCP6 2001:db8::1 ::ffff:192.0.2.2 1 65535\r\n", piece=3)
proxy_seed("v1-unknown", "PROXY UNKNOWN\r\n")
proxy_seed("v1-unknown-longest", "PROXY UNKNOWN " + ":".join(["ffff"] * 8) + " " + ":".join(["ffff"] * 8)
           + " 65535 65535\r\n", piece=63)
proxy_seed("v1-leading-zero", "PROXY TCP4 192.0.2.01 198.51.100.2 1 2\r\n")
proxy_seed("v1-lf-only", "PROXY TCP4 192.0.2.1 198.51.100.2 1 2\n")
proxy_seed("not-proxy", "", rest=b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
proxy_seed("v2-tcp4", v2(0x21, 0x11, TCP4), piece=1)
proxy_seed("v2-tcp6", v2(0x21, 0x21, TCP6), piece=7)
proxy_seed("v2-local", v2(0x20, 0x00, b""))
proxy_seed("v2-local-with-addresses", v2(0x20, 0x11, TCP4))
proxy_seed("v2-unspec", v2(0x21, 0x00, b"abcd"))
proxy_seed("v2-unix", v2(0x21, 0x31, b"/tmp/a".ljust(108, b"\0") + b"/tmp/b".ljust(108, b"\0")))
proxy_seed("v2-udp4", v2(0x21, 0x12, TCP4))
proxy_seed("v2-tlvs", v2(0x21, 0x11, TCP4 + b"\x01\x00\x02h2" + b"\x04\x00\x03\0\0\0" + b"\x20\x00\x05\x01\0\0\0\0"))
proxy_seed("v2-tlv-overrun", v2(0x21, 0x11, TCP4 + b"\x01\x00\x09h2"))
proxy_seed("v2-short-addresses", v2(0x21, 0x21, TCP4))
proxy_seed("v2-too-long", V2_SIG + b"\x21\x11\x04\x00" + TCP4)
proxy_seed("v2-bad-version", v2(0x11, 0x11, TCP4))

# ---------------------------------------------------------------- forwarded
# byte 0: even for X-Forwarded-For, odd for Forwarded.


def forwarded_seed(name, value, rfc7239):
    write("forwarded", name, bytes([1 if rfc7239 else 0]) + value.encode())


forwarded_seed("xff-one", "203.0.113.9", False)
forwarded_seed("xff-chain", "198.51.100.1, 203.0.113.9, 10.0.0.5", False)
forwarded_seed("xff-ports", "[2001:db8::1]:4711, 192.0.2.1:80,2001:db8::2", False)
forwarded_seed("xff-garbage", "unknown, 01.2.3.4,, \t", False)
forwarded_seed("fwd-one", "for=203.0.113.9", True)
forwarded_seed("fwd-rfc-example", "for=192.0.2.43, for=198.51.100.17;by=203.0.113.60;proto=http;host=example.com", True)
forwarded_seed("fwd-quoted-v6", 'For="[2001:db8:cafe::17]:4711"', True)
forwarded_seed("fwd-hidden", 'for=unknown, for=_gazonk, for="_x:_y"', True)
forwarded_seed("fwd-escapes", 'for="\\[2001:db8::1\\]";proto=https', True)
forwarded_seed("fwd-open-quote", 'for="1.2.3.4', True)

print("corpus written to", os.path.join(HERE, "corpus"))
