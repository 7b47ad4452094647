// 2000 concurrent WebSocket connections on --threads 4: each gets register2
// and its own pong. Bounded to about 60 s.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { Relay } from './relay.mjs';

const N = 2000;
const OPEN_IN_FLIGHT = 200;

// One client: resolves once it has register2 and the pong for t, keeping the
// socket open. Messages are queued so nothing is missed between awaits.
function client(url, t, timeoutMs) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['simpatico.v1'], { handshakeTimeout: timeoutMs, perMessageDeflate: false });
    let reg = null;
    const timer = setTimeout(() => { ws.terminate(); reject(new Error(`client ${t}: timeout`)); }, timeoutMs);
    const fail = (e) => { clearTimeout(timer); ws.terminate(); reject(e); };
    ws.on('error', fail);
    ws.on('unexpected-response', (req, res) => fail(new Error(`client ${t}: HTTP ${res.statusCode}`)));
    ws.on('close', (code) => fail(new Error(`client ${t}: closed ${code}`)));
    ws.on('message', (data) => {
      let m;
      try { m = JSON.parse(data.toString()); } catch (e) { fail(e); return; }
      if (!reg) {
        if (m.handler !== 'register2') { fail(new Error(`client ${t}: first message ${data}`)); return; }
        reg = m;
        ws.send(JSON.stringify({ handler: 'ping', t }));
        return;
      }
      if (m.handler !== 'pong' || m.t !== t) { fail(new Error(`client ${t}: got ${data}`)); return; }
      clearTimeout(timer);
      ws.removeAllListeners('message');
      ws.removeAllListeners('close');
      ws.on('error', () => {});
      resolve({ ws, reg });
    });
  });
}

// Sends one more ping on an open socket and waits for its pong.
function pingAgain(ws, t, timeoutMs) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`second ping ${t}: timeout`)), timeoutMs);
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString());
      clearTimeout(timer);
      ws.removeAllListeners('message');
      if (m.handler === 'pong' && m.t === t) resolve();
      else reject(new Error(`second ping ${t}: got ${data}`));
    });
    ws.send(JSON.stringify({ handler: 'ping', t }));
  });
}

test(`${N} concurrent connections on 4 shards`, { timeout: 90000 }, async () => {
  const relay = await Relay.start([], { threads: 4 });
  const started = Date.now();
  const results = new Array(N);
  const sockets = [];
  try {
    // Open all N with at most OPEN_IN_FLIGHT handshakes in flight; each stays open.
    let next = 0;
    let failed = false;
    const worker = async () => {
      while (next < N && !failed) {
        const i = next++;
        try {
          const r = await client(relay.url, i, 20000);
          sockets.push(r.ws);
          results[i] = r;
        } catch (e) {
          failed = true;
          throw e;
        }
      }
    };
    await Promise.all(Array.from({ length: OPEN_IN_FLIGHT }, worker));
    assert.equal(sockets.length, N, 'every client answered');
    const openMs = Date.now() - started;

    const t1s = new Set(results.map((r) => r.reg.t1));
    assert.equal(t1s.size, N, 't1 distinct across all connections');

    // All N at once: a second ping each, all answered.
    await Promise.all(results.map((r, i) => pingAgain(r.ws, N + i, 30000)));
    const totalMs = Date.now() - started;
    assert.ok(totalMs < 60000, `took ${totalMs} ms (open ${openMs} ms)`);
  } finally {
    for (const ws of sockets) ws.terminate();
    await relay.stop();
  }
});
