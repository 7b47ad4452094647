// Public-key look-up (protocol.md, "Look-up and keep-alive"): invite3 ->
// invite4, and the invite flow a guest runs knowing only its host's SIG.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client, newIdentity, identityOnShard } from '../lib/client.mjs';
import { Relay, withRelay, expectOpen, closeAll } from '../lib/harness.mjs';

let relay;
let A;
let B;
before(async () => {
  relay = await Relay.start();
  A = await Client.registered(relay.url);
  B = await Client.registered(relay.url);
});
after(async () => {
  await closeAll([A, B]);
  await relay.stop();
});

const isInvite4 = (m) => m.handler === 'invite4';

test('invite: B looks up A -> invite4 with A\'s PEM exactly', async () => {
  B.send({ handler: 'invite3', publicKeySig: A.sig });
  const { msg } = await B.nextRaw(isInvite4);
  assert.deepEqual(msg, { handler: 'invite4', publicKeySig: A.sig, publicKeyPem: A.publicKeyPem });
});

test('invite: unknown SIG -> invite4 RECIPIENT_NOT_AVAILABLE, no key; stays open', async () => {
  const nobody = await newIdentity();
  B.send({ handler: 'invite3', publicKeySig: nobody.sig });
  const m = await B.next(isInvite4);
  assert.deepEqual(m, { handler: 'invite4', publicKeySig: nobody.sig, error: 'RECIPIENT_NOT_AVAILABLE' });
  assert.ok(!('publicKeyPem' in m));
  await expectOpen(B);
});

test('invite: a SIG that is not a SIG -> BAD_ENVELOPE', async () => {
  B.send({ handler: 'invite3', publicKeySig: 'not-a-sig' });
  assert.equal((await B.next((m) => m.handler === 'error' || isInvite4(m))).error, 'BAD_ENVELOPE');
  await expectOpen(B);
});

test('invite: a look-up of a SIG that has left -> RECIPIENT_NOT_AVAILABLE', async () => {
  const C = await Client.registered(relay.url);
  await C.close();
  // The relay forgets C once it sees the close; bounded retries.
  let m;
  for (let i = 0; i < 20; i++) {
    B.send({ handler: 'invite3', publicKeySig: C.sig });
    m = await B.next(isInvite4);
    if (m.error) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.deepEqual(m, { handler: 'invite4', publicKeySig: C.sig, error: 'RECIPIENT_NOT_AVAILABLE' });
});

test('invite: the flow: guest knows only the host SIG, looks it up, sends with fromPublicKeyPem, host decrypts', async () => {
  const hostSig = A.sig; // all the guest has (the invite link)
  const guest = await Client.registered(relay.url);
  try {
    guest.send({ handler: 'invite3', publicKeySig: hostSig });
    const inv = await guest.next(isInvite4);
    assert.equal(inv.publicKeySig, hostSig);
    const plaintext = JSON.stringify({ text: 'hi host, I came by your link', at: Date.now() });
    const box = await guest.encryptTo(inv.publicKeyPem, plaintext);
    guest.deliver(hostSig, box, 'inv-1', { fromPublicKeyPem: guest.publicKeyPem });
    assert.deepEqual(await guest.next((m) => m.handler === 'delivered' || m.handler === 'error'),
      { handler: 'delivered', id: 'inv-1' });
    const got = await A.next((m) => m.handler === 'acceptEnvelop');
    assert.equal(got.from, guest.sig);
    assert.equal(got.fromPublicKeyPem, guest.publicKeyPem);
    assert.equal(await A.decryptFrom(got.fromPublicKeyPem, got.box), plaintext);
    // And the host answers with the key it was given.
    const reply = await A.encryptTo(got.fromPublicKeyPem, 'welcome');
    A.deliver(got.from, reply);
    const back = await guest.next((m) => m.handler === 'acceptEnvelop');
    assert.equal(await guest.decryptFrom(inv.publicKeyPem, back.box), 'welcome');
  } finally {
    await guest.close();
  }
});

test('invite: look-ups across shards find keys owned by every shard', async () => {
  const SHARDS = 4;
  await withRelay([], async (r) => {
    const ids = [];
    for (let s = 0; s < SHARDS; s++) ids.push(await identityOnShard(s, SHARDS));
    const clients = await Promise.all(ids.map((identity) => Client.registered(r.url, { identity })));
    try {
      for (const asker of clients) {
        for (const target of clients) {
          asker.send({ handler: 'invite3', publicKeySig: target.sig });
          const m = await asker.next(isInvite4);
          assert.deepEqual(m, { handler: 'invite4', publicKeySig: target.sig, publicKeyPem: target.publicKeyPem });
        }
      }
    } finally {
      await closeAll(clients);
    }
  }, { threads: SHARDS });
});
