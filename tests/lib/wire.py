"""The WebSocket and HTTP bytes the Python tests send and check, with no IO:
frames (encode, decode, masking, the checks every server frame must pass),
the upgrade request and the response head, close payloads and codes.

The sync front (`syncws.py`, `rawhttp.py`) and the asyncio front
(`asyncws.py`) read and write sockets; everything about the bytes is here,
once.
"""
import base64
import hashlib
import json
import os
import struct

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
HOST = "127.0.0.1"  # the relay under test listens here; nothing else is contacted

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
OPCODE_NAMES = {0: "CONT", 1: "TEXT", 2: "BINARY", 8: "CLOSE", 9: "PING", 10: "PONG"}

MAX_HEAD = 64 * 1024            # a response head larger than this is a failure
MAX_FRAME = 64 * 1024 * 1024    # a server frame announcing more is a failure


class WSError(AssertionError):
    """A broken expectation about the server (a test failure, not an error)."""


class Timeout(WSError):
    """Nothing (or not enough) came from the server in time."""


class Closed(WSError):
    """The server closed the TCP connection (EOF or reset)."""


# ---------------------------------------------------------------- frames

class Frame:
    __slots__ = ("fin", "rsv", "opcode", "masked", "payload")

    def __init__(self, fin, rsv, opcode, masked, payload):
        self.fin, self.rsv, self.opcode, self.masked, self.payload = fin, rsv, opcode, masked, payload

    def close_info(self):
        """(code, reason bytes) of a close frame; code None for an empty payload."""
        if len(self.payload) == 1:
            raise WSError("server sent a close frame with a 1-byte payload")
        return close_code(self.payload), self.payload[2:]

    def __repr__(self):
        p = self.payload
        shown = p if len(p) <= 80 else p[:60] + b"...<%d bytes>" % len(p)
        return "Frame(%s fin=%d rsv=%d%s %r)" % (
            OPCODE_NAMES.get(self.opcode, hex(self.opcode)), self.fin, self.rsv,
            " masked" if self.masked else "", shown)


def _utf8(data):
    return data.encode("utf-8") if isinstance(data, str) else data


def mask_bytes(key, payload):
    """XOR payload with the 4-byte key (fast for large payloads)."""
    n = len(payload)
    if n == 0:
        return b""
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(k, "big")).to_bytes(n, "big")


def frame_header(opcode, length, fin=True, rsv=0, mask_key=None):
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0xF)
    m = 0x80 if mask_key is not None else 0
    if length < 126:
        h = struct.pack("!BB", b0, m | length)
    elif length < 65536:
        h = struct.pack("!BBH", b0, m | 126, length)
    else:
        h = struct.pack("!BBQ", b0, m | 127, length)
    return h + (mask_key if mask_key is not None else b"")


def build_frame(opcode, payload=b"", fin=True, rsv=0, mask=True, mask_key=None, length=None):
    """Bytes of one client frame (str payloads go as UTF-8). `length`
    overrides the announced length (the payload sent may then be shorter or
    longer than announced); mask=False sends it unmasked."""
    payload = _utf8(payload)
    key = (mask_key if mask_key is not None else os.urandom(4)) if mask else None
    n = len(payload) if length is None else length
    body = mask_bytes(key, payload) if key is not None else payload
    return frame_header(opcode, n, fin, rsv, key) + body


def fragment_frames(pieces, opcode=OP_TEXT, final=True):
    """One message as a list of len(pieces) frames: first `opcode`, then
    continuations; the last has FIN set unless final is False."""
    n = len(pieces)
    return [build_frame(opcode if i == 0 else OP_CONT, p, fin=(final and i == n - 1)) for i, p in enumerate(pieces)]


def message_frames(pieces, opcode=OP_TEXT, final=True):
    """The bytes of fragment_frames(pieces, opcode, final)."""
    return b"".join(fragment_frames(pieces, opcode, final))


def header_size(second_byte):
    """Bytes of the frame header (length fields and mask key included)
    announced by its second byte."""
    n = second_byte & 0x7F
    return 2 + (2 if n == 126 else 8 if n == 127 else 0) + (4 if second_byte & 0x80 else 0)


def parse_header(head):
    """(fin, rsv, opcode, mask key or None, payload length) of a complete
    frame header (header_size(head[1]) bytes)."""
    b0, b1 = head[0], head[1]
    n, pos = b1 & 0x7F, 2
    if n == 126:
        n, pos = struct.unpack("!H", head[2:4])[0], 4
    elif n == 127:
        n, pos = struct.unpack("!Q", head[2:10])[0], 10
    key = bytes(head[pos:pos + 4]) if b1 & 0x80 else None
    if n > MAX_FRAME:
        raise WSError("server frame announces %d bytes" % n)
    return b0 >> 7, (b0 >> 4) & 7, b0 & 0xF, key, n


def make_frame(header, payload):
    """The Frame of a parsed header and its payload bytes (unmasked)."""
    fin, rsv, opcode, key, _ = header
    payload = bytes(payload)
    if key is not None:
        payload = mask_bytes(key, payload)
    return Frame(fin, rsv, opcode, key is not None, payload)


def check_server_frame(f):
    """Fails on anything a server must not send: a mask, RSV bits, an
    unknown or continuation opcode (the relay never fragments), FIN=0, a
    control frame over 125 bytes."""
    if f.masked:
        raise WSError("server sent a masked frame: %r" % f)
    if f.rsv:
        raise WSError("server sent RSV bits: %r" % f)
    if f.opcode not in OPCODE_NAMES or f.opcode == OP_CONT:
        raise WSError("server sent opcode %d: %r" % (f.opcode, f))
    if not f.fin:
        raise WSError("server sent a fragmented message: %r" % f)
    if f.opcode >= 8 and len(f.payload) > 125:
        raise WSError("server sent a control frame of %d bytes" % len(f.payload))
    return f


# ---------------------------------------------------------------- close

def close_payload(code=None, reason=b""):
    """The payload of a close frame: empty for code None."""
    if code is None:
        return b""
    return struct.pack("!H", code) + _utf8(reason)


def close_code(payload):
    """The code of a close frame's payload, None when it has none."""
    if len(payload) >= 2:
        return struct.unpack("!H", payload[:2])[0]
    return None


# ---------------------------------------------------------------- JSON text

def json_text(obj):
    """A JSON object as compact text, the way the browser client sends it."""
    return json.dumps(obj, separators=(",", ":"))


def json_object(payload):
    """A text message's payload as a dict; fails for anything else."""
    obj = json.loads(payload.decode("utf-8") if isinstance(payload, (bytes, bytearray)) else payload)
    if not isinstance(obj, dict):
        raise WSError("message is not a JSON object: %r" % (payload,))
    return obj


# ---------------------------------------------------------------- handshake

def new_key():
    return base64.b64encode(os.urandom(16)).decode()


def accept_for(key):
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def upgrade_request(port, path="/", key=None, headers=None, drop=(), host=HOST):
    """(request bytes, key) of a WebSocket upgrade. `headers` (a dict) adds
    or replaces headers (a default is replaced whatever its case); `drop`
    removes default headers by lower-cased name."""
    key = key or new_key()
    base = [("Host", f"{host}:{port}"), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", key), ("Sec-WebSocket-Version", "13")]
    extra = dict(headers or {})
    lower_extra = {k.lower() for k in extra}
    out = [f"GET {path} HTTP/1.1"]
    out += [f"{k}: {v}" for k, v in base if k.lower() not in drop and k.lower() not in lower_extra]
    out += [f"{k}: {v}" for k, v in extra.items()]
    return ("\r\n".join(out) + "\r\n\r\n").encode("latin-1"), key


class Head:
    """A parsed HTTP response head. headers: lower-cased name -> list of values."""

    def __init__(self, version, status, reason, headers, text):
        self.version, self.status, self.reason, self.headers, self.text = version, status, reason, headers, text

    def header(self, name):
        v = self.headers.get(name.lower())
        return v[0] if v else None

    @property
    def status_line(self):
        return self.text.split("\r\n", 1)[0]

    def __repr__(self):
        return "<Head %d %s>" % (self.status, self.headers)


def head_end(buf):
    """Index just past the response head's blank line in buf, or -1."""
    i = buf.find(b"\r\n\r\n")
    if i < 0 and len(buf) > MAX_HEAD:
        raise WSError("response head over %d bytes" % MAX_HEAD)
    return i + 4 if i >= 0 else -1


def parse_head(data):
    """The Head of a response head's bytes (with or without its blank line)."""
    text = bytes(data).decode("latin-1")
    if text.endswith("\r\n\r\n"):
        text = text[:-4]
    lines = text.split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise WSError(f"bad status line {lines[0]!r}")
    headers = {}
    for line in lines[1:]:
        if ":" not in line:
            raise WSError(f"bad header line {line!r}")
        name, value = line.split(":", 1)
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return Head(parts[0], int(parts[1]), parts[2] if len(parts) > 2 else "", headers, text)


def check_upgrade(head, key):
    """Fails unless the head is a 101 that accepts `key`."""
    if not head.status_line.startswith("HTTP/1.1 101"):
        raise WSError("handshake refused: %r" % head.status_line)
    want = accept_for(key)
    if head.headers.get("sec-websocket-accept") != [want]:
        raise WSError("bad Sec-WebSocket-Accept %r (want %r)" % (head.headers.get("sec-websocket-accept"), want))
    if (head.header("upgrade") or "").lower() != "websocket":
        raise WSError("bad Upgrade header %r" % head.header("upgrade"))
    if "upgrade" not in (head.header("connection") or "").lower():
        raise WSError("bad Connection header %r" % head.header("connection"))
    return head


# ---------------------------------------------------------------- cutting bytes

def cut_at(data, offsets):
    """data cut at the given offsets, in the order given (a repeated offset
    or 0 gives an empty piece)."""
    pieces, prev = [], 0
    for o in offsets:
        pieces.append(data[prev:o])
        prev = o
    pieces.append(data[prev:])
    return pieces


def split_at(data, offsets):
    """data cut at the offsets inside it (0 < offset < len), sorted, no
    empty pieces."""
    return cut_at(data, sorted(set(o for o in offsets if 0 < o < len(data))))


def chunks(data, size):
    return [data[i:i + size] for i in range(0, len(data), size)] or [b""]
