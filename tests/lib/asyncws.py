"""The asyncio front: raw WebSocket and HTTP over asyncio streams, for tests
that hold thousands of connections at once. Functions over a (reader,
writer) pair from connect(); the bytes come from wire.py.

Every wait has a timeout and every loop a bound. Only loopback addresses
are contacted.
"""
import asyncio
import resource
import socket
import struct
import time

from .wire import (HOST, OP_CLOSE, OP_PING, OP_TEXT, WSError, check_server_frame, check_upgrade, close_code,
                   header_size, json_object, make_frame, parse_head, parse_header, upgrade_request)


async def connect(port, host=HOST, local=None, timeout=10.0):
    """(reader, writer) of a TCP connection, from the loopback address `local`."""
    return await asyncio.wait_for(
        asyncio.open_connection(host, port, local_addr=(local, 0) if local else None, limit=1 << 20), timeout)


async def read_head(reader, timeout=10.0):
    """The HTTP response head (a wire.Head: status, status_line, headers)."""
    return parse_head(await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout))


async def handshake(reader, writer, port, timeout=10.0):
    """Upgrade to WebSocket (wire.upgrade_request); fails unless accepted.
    Returns the response head."""
    req, key = upgrade_request(port)
    writer.write(req)
    return check_upgrade(await read_head(reader, timeout), key)


async def open_ws(port, timeout=10.0):
    """A WebSocket that has read its register2: (reader, writer)."""
    reader, writer = await connect(port, timeout=timeout)
    try:
        await handshake(reader, writer, port, timeout)
        r2 = await read_text(reader, timeout)
        if r2.get("handler") != "register2":
            raise WSError("expected register2, got %r" % r2)
    except BaseException:
        close_writer(writer)
        raise
    return reader, writer


async def read_frame(reader, timeout=10.0):
    """(opcode, payload) of the next server frame, checked by
    wire.check_server_frame."""
    async def one():
        first = await reader.readexactly(2)
        header = parse_header(first + await reader.readexactly(header_size(first[1]) - 2))
        return check_server_frame(make_frame(header, await reader.readexactly(header[4])))
    f = await asyncio.wait_for(one(), timeout)
    return f.opcode, f.payload


async def read_text(reader, timeout=10.0, skip_pings=True):
    """The next text message as a dict (server pings skipped)."""
    deadline = time.monotonic() + timeout
    for _ in range(1000):
        op, payload = await read_frame(reader, max(0.01, deadline - time.monotonic()))
        if op == OP_TEXT:
            return json_object(payload)
        if op == OP_PING and skip_pings:
            continue
        raise WSError("expected a text message, got opcode %d %r" % (op, payload[:80]))
    raise WSError("too many frames")


async def read_close(reader, timeout=10.0):
    """Reads frames until a close frame; returns (code, text messages seen
    before it as dicts)."""
    deadline = time.monotonic() + timeout
    texts = []
    for _ in range(100000):
        op, payload = await read_frame(reader, max(0.01, deadline - time.monotonic()))
        if op == OP_CLOSE:
            return close_code(payload), texts
        if op == OP_TEXT:
            texts.append(json_object(payload))
    raise WSError("no close frame within 100000 frames")


async def wait_eof(reader, timeout=10.0):
    """True once the server has closed (EOF or reset), draining what it sends;
    False when still open at the timeout."""
    deadline = time.monotonic() + timeout
    for _ in range(100000):
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        try:
            data = await asyncio.wait_for(reader.read(65536), left)
        except asyncio.TimeoutError:
            return False
        except (ConnectionResetError, BrokenPipeError):
            return True
        if not data:
            return True
    return False


def close_writer(writer, reset=False):
    """Close the connection; reset: with an RST (SO_LINGER 0), not a FIN."""
    try:
        if reset:
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.close()
    except OSError:
        pass


async def bounded_gather(coros, limit):
    """Runs coroutines with at most `limit` at once; returns their results
    (exceptions returned, not raised)."""
    sem = asyncio.Semaphore(limit)

    async def run(c):
        async with sem:
            try:
                return await c
            except Exception as e:  # reported by the caller
                return e

    return await asyncio.gather(*(run(c) for c in coros))


def run_async(coro, timeout):
    """asyncio.run with an overall time bound."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


def raise_nofile(n):
    """Lets this test process hold n sockets (the hard limit caps it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(max(soft, n), hard)
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]
