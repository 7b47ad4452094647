// Registration over real sockets (protocol.md, "Registration"): a real
// webcryptobox key pair gets VERIFIED; every refusal code reachable from the
// wire gets register4 UNVERIFIED with that code and then close 1008.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client, BAD_REGISTER3, badRegister3, newIdentity, SIG_RE } from '../lib/client.mjs';
import { Relay, withRelay, expectRefused, expectOpen, closeAll } from '../lib/harness.mjs';

let relay;
before(async () => { relay = await Relay.start(); });
after(async () => { await relay.stop(); });

test('registration: register2 carries a P-521 key and a fresh t1', async () => {
  const a = await Client.connect(relay.url);
  const b = await Client.connect(relay.url);
  try {
    for (const c of [a, b]) {
      assert.equal(c.register2.handler, 'register2');
      assert.match(c.register2.publicKeyPem, /^-----BEGIN PUBLIC KEY-----\n[\s\S]+\n-----END PUBLIC KEY-----\n?$/);
      assert.ok(Number.isSafeInteger(c.register2.t1));
      assert.ok(Math.abs(c.register2.t1 - Date.now()) < 60000, 't1 is a millisecond timestamp');
    }
    assert.equal(a.register2.publicKeyPem, b.register2.publicKeyPem);
    assert.ok(b.register2.t1 > a.register2.t1, 't1 strictly increases');
  } finally {
    await closeAll([a, b]);
  }
});

test('registration: a real key pair is VERIFIED and the connection stays', async () => {
  const c = await Client.connect(relay.url);
  try {
    assert.match(c.sig, SIG_RE);
    assert.deepEqual(await c.register(), { handler: 'register4', state2: 'VERIFIED' });
    await expectOpen(c);
  } finally {
    await c.close();
  }
});

for (const [kind, code] of Object.entries(BAD_REGISTER3)) {
  test(`registration: ${kind} -> UNVERIFIED ${code}, close 1008`, async () => {
    const other = kind === 't1-of-another-challenge' ? await Client.connect(relay.url) : null;
    const c = await Client.connect(relay.url);
    try {
      const reply = await badRegister3(kind, c.identity, c.register2, { otherT1: other?.register2.t1 });
      c.send(reply);
      await expectRefused(c, code, { what: kind });
    } finally {
      await closeAll([c, other]);
    }
  });
}

test('registration: clearText a number -> UNVERIFIED BAD_CLEARTEXT, close 1008', async () => {
  const c = await Client.connect(relay.url);
  try {
    const good = await badRegister3('cleartext-missing', c.identity, c.register2);
    c.send({ ...good, clearText: 12 });
    await expectRefused(c, 'BAD_CLEARTEXT');
  } finally {
    await c.close();
  }
});

test('registration: before VERIFIED, deliverEnvelop and invite3 get NOT_REGISTERED; ping works', async () => {
  const c = await Client.connect(relay.url);
  const peer = await newIdentity();
  try {
    c.deliver(peer.sig, 'abcd', 'x1');
    const e1 = await c.next((m) => m.handler === 'error');
    assert.equal(e1.error, 'NOT_REGISTERED');
    c.send({ handler: 'invite3', publicKeySig: peer.sig });
    const e2 = await c.next((m) => m.handler === 'error');
    assert.deepEqual(e2, { handler: 'error', error: 'NOT_REGISTERED' });
    const { pong } = await c.ping('before');
    assert.equal(pong.t, 'before');
    assert.ok(Number.isInteger(pong.serverTime));
    // Still registrable afterwards.
    assert.equal((await c.register()).state2, 'VERIFIED');
  } finally {
    await c.close();
  }
});

test('registration: a second register3 after VERIFIED -> BAD_ENVELOPE, stays open', async () => {
  const c = await Client.connect(relay.url);
  try {
    assert.equal((await c.register()).state2, 'VERIFIED');
    c.send(await badRegister3('cleartext-mismatch', c.identity, c.register2)); // any register3
    assert.deepEqual(await c.next((m) => m.handler === 'error'), { handler: 'error', error: 'BAD_ENVELOPE' });
    await c.nothing((m) => m.handler === 'register4', 300);
    await expectOpen(c);
  } finally {
    await c.close();
  }
});

test('registration: no register3 within --register-timeout 1 -> UNVERIFIED TIMEOUT, close 1008', async () => {
  await withRelay(['--register-timeout', '1'], async (r) => {
    const start = Date.now();
    const c = await Client.connect(r.url);
    try {
      await expectRefused(c, 'TIMEOUT', { timeoutMs: 4000 });
      const took = Date.now() - start;
      assert.ok(took >= 900, `refused after ${took} ms, before the 1 s timeout`);
      assert.ok(took < 3000, `refused after ${took} ms`);
    } finally {
      c.terminate();
    }
  });
});

test('registration: a register3 inside the timeout is not refused by it', async () => {
  await withRelay(['--register-timeout', '1'], async (r) => {
    const c = await Client.connect(r.url);
    try {
      assert.equal((await c.register()).state2, 'VERIFIED');
      await c.nothing(() => true, 1500); // past the 1 s deadline: no TIMEOUT
      await expectOpen(c);
    } finally {
      await c.close();
    }
  });
});
