// The mock behaves as a browser WebSocket does, or the client's tests over
// it would prove nothing about the browser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MockServer, MockWebSocket } from '../mock-websocket.js';

function trace(ws) {
  const log = [];
  for (const t of ['open', 'message', 'error', 'close']) {
    ws.addEventListener(t, (ev) => log.push(t === 'message' ? `message:${ev.data}` : t === 'close' ? `close:${ev.code}:${ev.wasClean}` : t));
  }
  return log;
}

const until = async (cond, ms = 2000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 2));
  }
};

test('mock ws: connect, echo with delay, close handshake', async () => {
  const server = new MockServer({ latencyMs: 20 });
  server.onconnection = (peer) => { peer.onmessage = (text) => peer.send(`echo ${text}`); };
  const ws = new server.WebSocket('ws://mock/', ['simpatico.v1']);
  const log = trace(ws);
  let onopenCalled = false;
  ws.onopen = () => { onopenCalled = true; };
  assert.equal(ws.readyState, MockWebSocket.CONNECTING);
  assert.throws(() => ws.send('early'), { name: 'InvalidStateError' });
  await until(() => ws.readyState === MockWebSocket.OPEN);
  assert.ok(onopenCalled);
  assert.equal(ws.protocol, 'simpatico.v1');
  const sentAt = Date.now();
  ws.send('hi');
  await until(() => log.includes('message:echo hi'));
  assert.ok(Date.now() - sentAt >= 35, 'a round trip takes two latencies');
  ws.close(1000, 'bye');
  assert.equal(ws.readyState, MockWebSocket.CLOSING);
  ws.send('dropped silently');
  await until(() => ws.readyState === MockWebSocket.CLOSED);
  assert.deepEqual(log, ['open', 'message:echo hi', 'close:1000:true']);
  assert.equal(server.connections.size, 0);
});

test('mock ws: refused -> error then close 1006; dropped -> 1006 unclean', async () => {
  const server = new MockServer({ latencyMs: 1 });
  server.refuse = true;
  const a = new server.WebSocket('ws://mock/');
  const la = trace(a);
  await until(() => a.readyState === MockWebSocket.CLOSED);
  assert.deepEqual(la, ['error', 'close:1006:false']);

  server.refuse = false;
  const b = new server.WebSocket('ws://mock/');
  const lb = trace(b);
  await until(() => b.readyState === MockWebSocket.OPEN);
  server.dropAll();
  await until(() => b.readyState === MockWebSocket.CLOSED);
  assert.deepEqual(lb, ['open', 'error', 'close:1006:false']);
  assert.equal(server.attempts, 2);
});

test('mock ws: server close reaches the client with its code; order is kept', async () => {
  const server = new MockServer({ latencyMs: 3 });
  server.onconnection = (peer) => {
    for (let i = 0; i < 20; i++) peer.send(String(i));
    peer.close(4000, 'replaced');
  };
  const ws = new server.WebSocket('ws://mock/');
  const log = trace(ws);
  await until(() => ws.readyState === MockWebSocket.CLOSED);
  assert.deepEqual(log, ['open', ...Array.from({ length: 20 }, (_, i) => `message:${i}`), 'close:4000:true']);
});
