// A SIG registered twice (protocol.md, Registration 5): by default the newer
// connection takes over (older: error REPLACED, close 4000); with
// --on-duplicate reject the newer is refused with SIG_IN_USE.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, newIdentity, makeRegister3 } from '../lib/client.mjs';
import { withRelay, expectRefused, expectOpen, closeAll } from '../lib/harness.mjs';

const isAccept = (m) => m.handler === 'acceptEnvelop';

async function takeoverReplaces(r) {
  const identity = await newIdentity();
  const older = await Client.registered(r.url, { identity });
  const sender = await Client.registered(r.url);
  let newer;
  try {
    newer = await Client.connect(r.url, { identity });
    assert.deepEqual(await newer.register(), { handler: 'register4', state2: 'VERIFIED' });
    assert.deepEqual(await older.next((m) => m.handler === 'error'), { handler: 'error', error: 'REPLACED' });
    assert.equal((await older.waitClosed()).code, 4000);
    // Envelopes to the SIG now reach the newer connection.
    const box = await sender.encryptTo(identity.publicKeyPem, 'to the new one');
    sender.deliver(identity.sig, box, 't1');
    assert.deepEqual(await sender.next((m) => m.handler === 'delivered' || m.handler === 'error'),
      { handler: 'delivered', id: 't1' });
    const got = await newer.next(isAccept);
    assert.equal(await newer.decryptFrom(sender.publicKeyPem, got.box), 'to the new one');
    // The look-up still finds the key.
    sender.send({ handler: 'invite3', publicKeySig: identity.sig });
    assert.equal((await sender.next((m) => m.handler === 'invite4')).publicKeyPem, identity.publicKeyPem);
    await expectOpen(newer, 'newer');
  } finally {
    await closeAll([older, sender, newer]);
  }
}

test('takeover: default -> older REPLACED + close 4000, newer VERIFIED and gets the envelopes', async () => {
  await withRelay([], takeoverReplaces);
});

test('takeover: --on-duplicate replace, across shards', async () => {
  // With 4 shards the two connections are likely accepted by different shards.
  await withRelay(['--on-duplicate', 'replace'], async (r) => {
    for (let i = 0; i < 3; i++) await takeoverReplaces(r);
  }, { threads: 4 });
});

test('takeover: the older leaving after a takeover does not unregister the newer', async () => {
  await withRelay([], async (r) => {
    const identity = await newIdentity();
    const older = await Client.registered(r.url, { identity });
    const newer = await Client.registered(r.url, { identity });
    const sender = await Client.registered(r.url);
    try {
      await older.waitClosed();
      await new Promise((res) => setTimeout(res, 200));
      sender.deliver(identity.sig, 'abcd', 'after');
      assert.deepEqual(await sender.next((m) => m.handler === 'delivered' || m.handler === 'error'),
        { handler: 'delivered', id: 'after' });
      assert.equal((await newer.next(isAccept)).box, 'abcd');
    } finally {
      await closeAll([older, newer, sender]);
    }
  });
});

test('takeover: --on-duplicate reject -> newer UNVERIFIED SIG_IN_USE + close 1008, older keeps working', async () => {
  await withRelay(['--on-duplicate', 'reject'], async (r) => {
    const identity = await newIdentity();
    const older = await Client.registered(r.url, { identity });
    const sender = await Client.registered(r.url);
    const newer = await Client.connect(r.url, { identity });
    try {
      newer.send(await makeRegister3(identity, newer.register2));
      await expectRefused(newer, 'SIG_IN_USE');
      await older.nothing((m) => m.handler === 'error', 300);
      const box = await sender.encryptTo(identity.publicKeyPem, 'still yours');
      sender.deliver(identity.sig, box, 'r1');
      assert.deepEqual(await sender.next((m) => m.handler === 'delivered' || m.handler === 'error'),
        { handler: 'delivered', id: 'r1' });
      assert.equal(await older.decryptFrom(sender.publicKeyPem, (await older.next(isAccept)).box), 'still yours');
      await expectOpen(older, 'older');
    } finally {
      await closeAll([older, sender, newer]);
    }
  });
});

test('takeover: --on-duplicate reject frees the SIG once the holder leaves', async () => {
  await withRelay(['--on-duplicate', 'reject'], async (r) => {
    const identity = await newIdentity();
    const first = await Client.registered(r.url, { identity });
    await first.close();
    // The relay forgets the SIG once it has seen the close; bounded retries.
    let last;
    for (let i = 0; i < 20; i++) {
      const c = await Client.connect(r.url, { identity });
      last = await c.register();
      if (last.state2 === 'VERIFIED') { await c.close(); break; }
      c.terminate();
      await new Promise((res) => setTimeout(res, 100));
    }
    assert.deepEqual(last, { handler: 'register4', state2: 'VERIFIED' });
  });
});
