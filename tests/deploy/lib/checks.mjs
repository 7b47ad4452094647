// What every proxy in front of the relay must pass, with protocol v1
// spoken by tests/node/lib/client.mjs over wss://.
import assert from 'node:assert/strict';
import { Client, sleep } from '../../node/lib/client.mjs';

// One encrypted envelope from -> to, acked to the sender, decrypted by the
// recipient.
async function envelope(from, to, text) {
  const id = `e${Math.random().toString(36).slice(2)}`;
  from.deliver(to.sig, await from.encryptTo(to.publicKeyPem, text), id);
  const got = await to.next((m) => m.handler === 'acceptEnvelop' && m.from === from.sig);
  assert.equal(await to.decryptFrom(from.publicKeyPem, got.box), text);
  const ack = await from.next((m) => m.handler === 'delivered' && m.id === id);
  assert.equal(ack.id, id);
}

async function pair(url, tls) {
  const opts = { wsOptions: tls, timeoutMs: 10000 };
  const A = await Client.registered(url, opts);
  try {
    return [A, await Client.registered(url, opts)];
  } catch (e) {
    A.terminate();
    throw e;
  }
}

// Two clients register through the proxy and exchange an envelope each way.
export async function exchange(url, tls) {
  const [A, B] = await pair(url, tls);
  try {
    await envelope(A, B, 'hello B, through the proxy');
    await envelope(B, A, 'hello A, back through the proxy');
  } finally {
    await A.close();
    await B.close();
  }
}

// A registered pair sends nothing for idleMs (the ws library answers the
// relay's pings by itself), then must still be open and exchange envelopes.
export async function idleThenExchange(url, tls, idleMs) {
  const [A, B] = await pair(url, tls);
  try {
    await sleep(idleMs);
    assert.equal(A.closeInfo, null, `A was closed while idle: ${JSON.stringify(A.closeInfo)}`);
    assert.equal(B.closeInfo, null, `B was closed while idle: ${JSON.stringify(B.closeInfo)}`);
    await envelope(A, B, `after ${idleMs} ms idle`);
    await envelope(B, A, `after ${idleMs} ms idle, back`);
  } finally {
    await A.close();
    await B.close();
  }
}

// The control: a registered client idles while the relay's next ping is
// pingMs away; the proxy's timeout (timeoutMs) must cut it first, without a
// close frame (1006), not before the timeout and before that ping.
export async function expectCutWhileIdle(url, tls, timeoutMs, pingMs) {
  const A = await Client.registered(url, { wsOptions: tls, timeoutMs: 10000 });
  const start = Date.now();
  try {
    const closed = await A.waitClosed(pingMs + 2000);
    const after = Date.now() - start;
    assert.equal(closed.code, 1006, `expected the proxy to cut the connection: ${JSON.stringify(closed)}`);
    assert.ok(after >= timeoutMs - 500, `cut after ${after} ms, before the proxy's ${timeoutMs} ms`);
    assert.ok(after < pingMs, `cut after ${after} ms, not before the relay's ping at ${pingMs} ms`);
  } finally {
    A.terminate();
  }
}
