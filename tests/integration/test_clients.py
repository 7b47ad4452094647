"""A real client: python3-websockets (asyncio) against the relay."""
import asyncio
import json

import websockets

from tests.lib.relayproc import RelayTestCase


def run(coro, timeout=20):
    return asyncio.run(asyncio.wait_for(coro, timeout))


class PythonWebsockets(RelayTestCase):
    @property
    def url(self):
        return self.relay.url

    def test_register2_ping_pong_clean_close(self):
        async def main():
            ws = await websockets.connect(self.url, subprotocols=["simpatico.v1"], open_timeout=5,
                                          close_timeout=5)
            try:
                self.assertEqual(ws.subprotocol, "simpatico.v1")
                reg = json.loads(await asyncio.wait_for(ws.recv(), 5))
                self.assertEqual(reg["handler"], "register2")
                self.assertIn("BEGIN PUBLIC KEY", reg["publicKeyPem"])
                await ws.send(json.dumps({"handler": "ping", "t": 99}))
                pong = json.loads(await asyncio.wait_for(ws.recv(), 5))
                self.assertEqual(pong["handler"], "pong")
                self.assertEqual(pong["t"], 99)
                self.assertIsInstance(pong["serverTime"], int)
            finally:
                await ws.close(code=1000, reason="bye")
            self.assertEqual(ws.close_code, 1000)
            await asyncio.wait_for(ws.wait_closed(), 5)
        run(main())

    def test_without_subprotocol(self):
        async def main():
            async with websockets.connect(self.url + "chat/room?x=1", open_timeout=5,
                                          close_timeout=5) as ws:
                self.assertIsNone(ws.subprotocol)
                reg = json.loads(await asyncio.wait_for(ws.recv(), 5))
                self.assertEqual(reg["handler"], "register2")
            self.assertEqual(ws.close_code, 1000)
        run(main())

    def test_websocket_level_ping(self):
        async def main():
            async with websockets.connect(self.url, open_timeout=5, close_timeout=5) as ws:
                await asyncio.wait_for(ws.recv(), 5)
                waiter = await ws.ping(b"lag")
                await asyncio.wait_for(waiter, 5)
        run(main())

    def test_fragmented_send(self):
        async def main():
            async with websockets.connect(self.url, open_timeout=5, close_timeout=5) as ws:
                await asyncio.wait_for(ws.recv(), 5)
                text = json.dumps({"handler": "ping", "t": "f" * 300})
                await ws.send([text[i:i + 50] for i in range(0, len(text), 50)])
                pong = json.loads(await asyncio.wait_for(ws.recv(), 5))
                self.assertEqual(pong["t"], "f" * 300)
        run(main())

    def test_many_clients_concurrently(self):
        async def one(i):
            async with websockets.connect(self.url, open_timeout=10, close_timeout=5) as ws:
                reg = json.loads(await asyncio.wait_for(ws.recv(), 10))
                await ws.send(json.dumps({"handler": "ping", "t": i}))
                pong = json.loads(await asyncio.wait_for(ws.recv(), 10))
                self.assertEqual(pong["t"], i)
                return reg["t1"]

        async def main():
            t1s = await asyncio.gather(*(one(i) for i in range(100)))
            self.assertEqual(len(set(t1s)), 100)
        run(main(), timeout=40)

    def test_server_close_message_on_oversize(self):
        async def main():
            async with websockets.connect(self.url, open_timeout=5, close_timeout=5,
                                          max_size=None) as ws:
                await asyncio.wait_for(ws.recv(), 5)
                await ws.send(json.dumps({"handler": "ping", "t": "z" * 5000}))
                with self.assertRaises(websockets.ConnectionClosed):
                    await asyncio.wait_for(ws.recv(), 5)
                self.assertEqual(ws.close_code, 1009)
        run(main())
