// Serving the 2024 Simpatico client (README, "Serving the 2024 Simpatico
// client"): its envelopes are built as websocket.js's sendEnvelop builds
// them, JSON.stringify({handler, from, fromPublicKeyPem, to, box}), and its
// acceptEnvelop decrypts with the envelope's fromPublicKeyPem, which over a
// real network is missing (undefined: left out by JSON.stringify) or empty.
// With --add-sender-key the relay puts the sender's registered key there;
// without it, and for envelopes that carry a key, forwarding stays byte for
// byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, identityOnShard } from '../lib/client.mjs';
import { withRelay, relayHasFlag, closeAll } from '../lib/harness.mjs';

const haveFlag = () => relayHasFlag('--add-sender-key');
const isAccept = (m) => m.handler === 'acceptEnvelop';

// The 2024 client's envelope, key by key in its order.
function envelope2024(from, fromPublicKeyPem, to, box) {
  return JSON.stringify({ handler: 'deliverEnvelop', from, fromPublicKeyPem, to, box });
}

// The 2024 client's acceptEnvelop: the key from the envelope, or nothing.
async function accept2024(recipient, msg) {
  if (!msg.fromPublicKeyPem) throw new Error('no fromPublicKeyPem: the 2024 client has no key to decrypt with');
  return recipient.decryptFrom(msg.fromPublicKeyPem, msg.box);
}

async function pair(url, sameShard, shards) {
  const a = await identityOnShard(0, shards);
  const b = await identityOnShard(sameShard ? 0 : 1 % shards, shards);
  return [await Client.registered(url, { identity: a }), await Client.registered(url, { identity: b })];
}

for (const [where, same] of [['on one shard', true], ['across shards', false]]) {
  test(`sender key: --add-sender-key, ${where}: the 2024 client's envelope gets the sender's key and decrypts`, async (t) => {
    if (!haveFlag()) return t.skip('this relay has no --add-sender-key');
    await withRelay(['--add-sender-key'], async (r) => {
      const [A, B] = await pair(r.url, same, 2);
      try {
        for (const pem of [undefined, '']) {
          const box = await A.encryptTo(B.identity.publicKeyPem, `hi ${pem === undefined ? 'missing' : 'empty'}`);
          const sent = A.send(envelope2024(A.sig, pem, B.sig, box));
          const { text, msg } = await B.nextRaw(isAccept);
          assert.equal(msg.fromPublicKeyPem, A.identity.publicKeyPem);
          assert.equal(msg.from, A.sig);
          assert.equal(msg.to, B.sig);
          assert.equal(msg.box, box);
          assert.equal(await accept2024(B, msg), `hi ${pem === undefined ? 'missing' : 'empty'}`);
          // Only the handler changed and the key was added: the rest is the sender's bytes.
          const keyed = JSON.stringify(A.identity.publicKeyPem);
          const want = pem === undefined
            ? `${sent.slice(0, -1).replace('"deliverEnvelop"', '"acceptEnvelop" ')},"fromPublicKeyPem":${keyed}}`
            : sent.replace('"deliverEnvelop"', '"acceptEnvelop" ').replace('"fromPublicKeyPem":""', `"fromPublicKeyPem":${keyed}`);
          assert.equal(text, want);
        }
        // An envelope that carries a key is forwarded as it is.
        const box = await B.encryptTo(A.identity.publicKeyPem, 'back');
        const sent = B.send(envelope2024(B.sig, B.identity.publicKeyPem, A.sig, box));
        const { text } = await A.nextRaw(isAccept);
        assert.equal(text, sent.replace('"deliverEnvelop"', '"acceptEnvelop" '));
        // Errors still echo `to` (and `id`) from where they stand.
        A.send(JSON.stringify({ handler: 'deliverEnvelop', from: A.sig, to: B.sig.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')), box: '00', id: 7 }));
        const err = await A.next((m) => m.handler === 'error');
        assert.equal(err.error, 'RECIPIENT_NOT_AVAILABLE');
        assert.equal(err.id, 7);
      } finally {
        await closeAll([A, B]);
      }
    }, { threads: 2 });
  });
}

test('sender key: without --add-sender-key the 2024 envelope is forwarded byte for byte, without a key', async () => {
  await withRelay([], async (r) => {
    const [A, B] = await pair(r.url, false, 2);
    try {
      const box = await A.encryptTo(B.identity.publicKeyPem, 'plain');
      const sent = A.send(envelope2024(A.sig, undefined, B.sig, box));
      const { text, msg } = await B.nextRaw(isAccept);
      assert.equal(text, sent.replace('"deliverEnvelop"', '"acceptEnvelop" '));
      assert.equal(msg.fromPublicKeyPem, undefined);
      await assert.rejects(accept2024(B, msg), /no fromPublicKeyPem/);
    } finally {
      await closeAll([A, B]);
    }
  }, { threads: 2 });
});
