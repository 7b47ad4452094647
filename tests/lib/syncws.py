"""The sync front: one raw WebSocket connection over a plain socket.

It can send anything (any FIN/RSV/opcode, masked or not, a length field
that lies, frames cut at chosen byte offsets so the pieces reach the server
in separate reads) and checks every frame the server sends
(`wire.check_server_frame`).

Two kinds of readers:
- `expect_*` are strict: anything but what is expected fails the test
  (`expect_close`, `expect_no_frame`, `expect_eof`);
- `recv_*` return what came (`recv_frame`; `recv_message`, `recv_json`,
  `recv_close` answer server pings on the way), and `wait_eof` tells
  whether the server ended TCP.
"""
import threading
import time

from .rawhttp import CLOSE_TIMEOUT, DEFAULT_TIMEOUT, PIECE_DELAY, Stream, chunks, connect
from .wire import (OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, Closed, Timeout, WSError, build_frame,
                   check_server_frame, check_upgrade, close_code, close_payload, fragment_frames, header_size,
                   json_object, json_text, make_frame, parse_header, upgrade_request)


class Client(Stream):
    """A WebSocket connection (made by ws_handshake, ws_connect or ws_open).
    After the handshake, `head` is the response head (`status`, `headers`,
    `header()`) and `key` the Sec-WebSocket-Key sent."""

    head = None
    key = None

    def __init__(self, sock, timeout=DEFAULT_TIMEOUT, hard_deadline=None):
        super().__init__(sock, timeout, hard_deadline)
        self.server_pings = []

    @property
    def status(self):
        return self.head.status

    @property
    def headers(self):
        return self.head.headers

    def header(self, name):
        return self.head.header(name)

    # -- sending ----------------------------------------------------------
    def send_frame(self, opcode, payload=b"", fin=True, rsv=0, mask=True, mask_key=None,
                   length=None, splits=None, chunk=None, delay=PIECE_DELAY):
        data = build_frame(opcode, payload, fin, rsv, mask, mask_key, length)
        return self.send_raw(data, splits=splits, chunk=chunk, delay=delay)

    def send_text(self, payload, **kw):
        return self.send_frame(OP_TEXT, payload, **kw)

    def send_json(self, obj):
        return self.send_text(json_text(obj))

    def send_binary(self, payload, **kw):
        return self.send_frame(OP_BINARY, payload, **kw)

    def send_ping(self, payload=b"", **kw):
        return self.send_frame(OP_PING, payload, **kw)

    def send_pong(self, payload=b"", **kw):
        return self.send_frame(OP_PONG, payload, **kw)

    def send_close(self, code=None, reason=b"", **kw):
        return self.send_frame(OP_CLOSE, close_payload(code, reason), **kw)

    def send_fragments(self, opcode, pieces, delay=0.0, final=True):
        """One message as len(pieces) frames (wire.fragment_frames), with
        `delay` seconds between frames when given."""
        frames = fragment_frames(pieces, opcode, final)
        if not delay:
            return self.send_raw(b"".join(frames))
        ok = True
        for i, frame in enumerate(frames):
            if i:
                time.sleep(delay)
            ok = self.send_raw(frame) and ok
        return ok

    def start_sender(self, data, chunk=256 * 1024, timeout=20.0):
        """Send data from a thread (for exchanges too big to send before
        reading). Returns the thread; join() it; .error holds any exception."""
        sock = self.sock.dup()
        sock.settimeout(max(0.1, min(timeout, self.hard_deadline - time.monotonic())))
        t = threading.Thread(target=_send_all, args=(self, sock, data, chunk), daemon=True)
        t.error = None
        t.start()
        return t

    # -- receiving: frames ------------------------------------------------
    def recv_frame(self, timeout=None, skip_pings=True, strict=True):
        """One frame (a wire.Frame). Server pings (keep-alive) are skipped
        and kept in server_pings unless skip_pings is False. strict: fail
        on anything a server must not send (wire.check_server_frame)."""
        deadline = self.deadline(timeout)
        for _ in range(10000):
            self.need(2, deadline)
            size = header_size(self.buf[1])
            self.need(size, deadline)
            header = parse_header(self.buf[:size])
            self.need(size + header[4], deadline)
            self.take(size)
            f = make_frame(header, self.take(header[4]))
            if strict:
                check_server_frame(f)
            if skip_pings and f.opcode == OP_PING:
                self.server_pings.append(f.payload)
                continue
            return f
        raise WSError("too many server pings")

    def expect_no_frame(self, wait=0.3):
        """Nothing (but keep-alive pings) arrives within `wait` seconds and
        the connection stays open."""
        try:
            f = self.recv_frame(timeout=wait)
        except Timeout:
            return
        raise WSError("expected no frame, got %r" % (f,))

    def expect_close(self, timeout=None, allow=None, close_timeout=CLOSE_TIMEOUT):
        """Read until the server's close frame; return (code, reason).

        Frames before it fail the expectation unless allow(frame) is true.
        Then the server must close TCP within close_timeout without sending
        anything more."""
        deadline = self.deadline(timeout)
        for _ in range(100000):
            left = max(0.01, deadline - time.monotonic())
            try:
                f = self.recv_frame(timeout=left)
            except Closed:
                raise Closed("server closed TCP without a close frame") from None
            except Timeout:
                raise Timeout("no close frame from server within the timeout") from None
            if f.opcode == OP_CLOSE:
                info = f.close_info()
                self.expect_eof(close_timeout)
                return info
            if allow is None or not allow(f):
                raise WSError("expected a close frame, got %r" % (f,))
        raise WSError("too many frames before close")

    # -- receiving: messages ----------------------------------------------
    def recv_message(self, timeout=DEFAULT_TIMEOUT, auto_pong=True):
        """(opcode, payload) of the next data message or close frame. Server
        pings are answered when auto_pong; pongs are skipped."""
        deadline = time.monotonic() + timeout
        for _ in range(100000):
            f = self.recv_frame(max(0.001, deadline - time.monotonic()), skip_pings=False)
            if f.opcode == OP_PING:
                if auto_pong:
                    self.send_pong(f.payload)
            elif f.opcode != OP_PONG:
                return f.opcode, f.payload
        raise WSError("too many frames")

    def recv_json(self, timeout=DEFAULT_TIMEOUT, auto_pong=True):
        """The next text message as a dict."""
        op, payload = self.recv_message(timeout, auto_pong=auto_pong)
        if op == OP_CLOSE:
            raise WSError(f"expected a text message, got close {close_code(payload)}")
        if op != OP_TEXT:
            raise WSError(f"expected a text message, got opcode {op}")
        return json_object(payload)

    def request(self, obj_or_text, timeout=DEFAULT_TIMEOUT, auto_pong=True):
        """Send a text message (a dict goes as JSON), return the reply as a dict."""
        if isinstance(obj_or_text, (str, bytes)):
            self.send_text(obj_or_text)
        else:
            self.send_json(obj_or_text)
        return self.recv_json(timeout, auto_pong=auto_pong)

    def recv_close(self, timeout=DEFAULT_TIMEOUT, reply=True, auto_pong=True):
        """Read until the server closes, skipping data messages. Returns the
        close frame's code (None when it had none, the close answered when
        reply), or 'eof' when TCP ended without a close frame."""
        deadline = time.monotonic() + timeout
        for _ in range(100000):
            try:
                op, payload = self.recv_message(max(0.001, deadline - time.monotonic()), auto_pong=auto_pong)
            except Closed:
                return "eof"
            if op == OP_CLOSE:
                if reply:
                    self.send_close(close_code(payload))
                return close_code(payload)
        raise WSError("no close")

    def close(self, code=1000, timeout=DEFAULT_TIMEOUT):
        """Client-initiated close; returns the code the server echoed."""
        self.send_close(code)
        return self.recv_close(timeout, reply=False)


def _send_all(client, sock, data, chunk):
    try:
        for piece in chunks(data, chunk) if chunk else [data]:
            sock.sendall(piece)
    except (BrokenPipeError, ConnectionResetError):
        client.send_failed = True
    except Exception as e:  # reported by the test through thread.error
        threading.current_thread().error = e
    finally:
        sock.close()


def ws_handshake(port, path="/", headers=None, drop=(), extra=b"", timeout=DEFAULT_TIMEOUT,
                 hard_deadline=None, source=None):
    """Send an upgrade request (wire.upgrade_request; `extra` bytes in the
    same write) and read the response head. Returns the Client whatever the
    status: the caller checks `status` and `headers`."""
    left = (hard_deadline if hard_deadline is not None else float("inf")) - time.monotonic()
    if left <= 0:
        raise Timeout("test time budget used up before connecting")
    c = Client(connect(port, min(timeout, left), source=source), timeout, hard_deadline)
    try:
        req, c.key = upgrade_request(port, path, headers=headers, drop=drop)
        c.send_raw(req + extra)
        c.head = c.read_head(timeout)
    except BaseException:
        c.abort()
        raise
    return c


def ws_connect(port, timeout=DEFAULT_TIMEOUT, hard_deadline=None, **kw):
    """A WebSocket whose upgrade was accepted (a 101 with the right
    Sec-WebSocket-Accept, Upgrade and Connection), else WSError."""
    c = ws_handshake(port, timeout=timeout, hard_deadline=hard_deadline, **kw)
    try:
        check_upgrade(c.head, c.key)
    except BaseException:
        c.abort()
        raise
    return c


def ws_open(port, path="/", headers=None, timeout=DEFAULT_TIMEOUT):
    """A connected WebSocket that has read its register2: (client, register2)."""
    c = ws_handshake(port, path, headers=headers, timeout=timeout)
    try:
        if c.status != 101:
            raise WSError(f"upgrade refused with {c.status}")
        reg = c.recv_json(timeout)
        if reg.get("handler") != "register2":
            raise WSError(f"first message is not register2: {reg}")
    except BaseException:
        c.abort()
        raise
    return c, reg

