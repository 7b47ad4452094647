// A real client: the npm `ws` package against the relay.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { Relay } from './relay.mjs';

let relay;
before(async () => { relay = await Relay.start(); });
after(async () => { await relay.stop(); });

// Resolves with the next message (parsed JSON) or rejects on timeout/close.
function nextMessage(ws, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      clearTimeout(t);
      ws.off('message', onMsg);
      ws.off('close', onClose);
    };
    const onMsg = (data, isBinary) => {
      cleanup();
      if (isBinary) reject(new Error('binary message from the relay'));
      else resolve(JSON.parse(data.toString('utf8')));
    };
    const onClose = (code) => { cleanup(); reject(new Error(`closed with ${code}`)); };
    const t = setTimeout(() => { cleanup(); reject(new Error('timeout waiting for a message')); }, timeoutMs);
    ws.on('message', onMsg);
    ws.once('close', onClose);
  });
}

function opened(ws, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('open timeout')), timeoutMs);
    ws.once('open', () => { clearTimeout(t); resolve(); });
    ws.once('error', (e) => { clearTimeout(t); reject(e); });
    ws.once('unexpected-response', (req, res) => {
      clearTimeout(t);
      reject(new Error(`unexpected response ${res.statusCode}`));
    });
  });
}

function closed(ws, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('close timeout')), timeoutMs);
    ws.once('close', (code, reason) => { clearTimeout(t); resolve({ code, reason: reason.toString() }); });
  });
}

// Connects and returns [ws, register2]; the message listener is attached
// before 'open' so register2 cannot be missed.
async function connect(url, protocols, opts = {}) {
  const ws = new WebSocket(url, protocols, { handshakeTimeout: 5000, ...opts });
  const first = nextMessage(ws);
  first.catch(() => {});
  await opened(ws);
  return [ws, await first];
}

test('ws: register2, ping -> pong, clean close 1000', async () => {
  const [ws, reg] = await connect(relay.url, ['simpatico.v1']);
  try {
    assert.equal(ws.protocol, 'simpatico.v1');
    assert.equal(reg.handler, 'register2');
    assert.match(reg.publicKeyPem, /^-----BEGIN PUBLIC KEY-----\n/);
    assert.ok(Number.isInteger(reg.t1));
    const reply = nextMessage(ws);
    ws.send(JSON.stringify({ handler: 'ping', t: 'node' }));
    const pong = await reply;
    assert.equal(pong.handler, 'pong');
    assert.equal(pong.t, 'node');
    assert.ok(Number.isInteger(pong.serverTime));
    const c = closed(ws);
    ws.close(1000, 'bye');
    const { code } = await c;
    assert.equal(code, 1000);
  } finally {
    ws.terminate();
  }
});

test('ws: no subprotocol offered, none selected; deep path', async () => {
  const [ws, reg] = await connect(relay.url + 'a/b/c?d=e');
  try {
    assert.equal(ws.protocol, '');
    assert.equal(reg.handler, 'register2');
  } finally {
    ws.terminate();
  }
});

test('ws: permessage-deflate offer is declined or honoured', async () => {
  const [ws, reg] = await connect(relay.url, undefined, { perMessageDeflate: true });
  try {
    assert.equal(reg.handler, 'register2');
    const reply = nextMessage(ws);
    ws.send(JSON.stringify({ handler: 'ping', t: 'x'.repeat(1000) }));
    assert.equal((await reply).t, 'x'.repeat(1000));
  } finally {
    ws.terminate();
  }
});

test('ws: websocket ping gets a pong with the same payload', async () => {
  const [ws] = await connect(relay.url);
  try {
    const got = new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no pong')), 5000);
      ws.once('pong', (data) => { clearTimeout(t); resolve(data.toString()); });
    });
    ws.ping('lag-probe');
    assert.equal(await got, 'lag-probe');
  } finally {
    ws.terminate();
  }
});

test('ws: fragmented message', async () => {
  const [ws] = await connect(relay.url);
  try {
    const text = JSON.stringify({ handler: 'ping', t: 'fragmented' });
    const reply = nextMessage(ws);
    ws.send(text.slice(0, 7), { fin: false });
    ws.send(text.slice(7, 20), { fin: false });
    ws.send(text.slice(20), { fin: true });
    assert.equal((await reply).t, 'fragmented');
  } finally {
    ws.terminate();
  }
});

test('ws: errors keep the connection open', async () => {
  const [ws] = await connect(relay.url);
  try {
    for (const [sent, code] of [['nope', 'BAD_JSON'], ['{"handler":"x"}', 'UNKNOWN_HANDLER'],
      ['{"handler":"invite3","publicKeySig":"' + 'A'.repeat(43) + '"}', 'NOT_REGISTERED']]) {
      const reply = nextMessage(ws);
      ws.send(sent);
      const err = await reply;
      assert.equal(err.handler, 'error');
      assert.equal(err.error, code, sent);
    }
    const reply = nextMessage(ws);
    ws.send(JSON.stringify({ handler: 'ping', t: 3 }));
    assert.equal((await reply).t, 3);
  } finally {
    ws.terminate();
  }
});

test('ws: binary message is closed with 1003', async () => {
  const [ws] = await connect(relay.url);
  try {
    const c = closed(ws);
    ws.send(Buffer.from('{"handler":"ping","t":1}'), { binary: true });
    assert.equal((await c).code, 1003);
  } finally {
    ws.terminate();
  }
});
