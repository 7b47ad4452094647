// The test client's own crypto, checked against the interop vectors
// (shared/vectors/registration.json, made with webcryptobox 4.0.0) and
// libxxhash, with no relay: if these fail, the other e2e results mean nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import nodeCrypto from 'node:crypto';
import {
  wcb, aesKeyHex, identityFromPrivatePem, makeRegister3, sigOfPem, decryptFromPem,
  newIdentity, identityOnShard, ownerShard,
} from '../lib/client.mjs';
import { xxh3_64 } from '../lib/xxh3.mjs';
import { loadVectors } from '../lib/vectors.mjs';

const V = loadVectors();

test('lib: vectors derive the same AES key and keys as webcryptobox did', async () => {
  const valid = V.cases.filter((c) => c.expect === 'VERIFIED');
  assert.ok(valid.length >= 1);
  for (const c of valid) {
    const id = await identityFromPrivatePem(c.clientPrivateKeyPem);
    assert.equal(id.publicKeyPem, c.response.publicKey, c.name);
    assert.equal(id.sig, c.response.publicKeySig, c.name);
    assert.equal(await aesKeyHex(id.privateKey, V.server.publicKeyPem), c.aesKeyHex, c.name);
    // And the box opens to clearText under that key.
    assert.equal(await decryptFromPem(id.privateKey, V.server.publicKeyPem, c.response.cypherText),
      c.response.clearText, c.name);
  }
  assert.equal(sigOfPem(V.server.publicKeyPem), V.server.publicKeySig);
});

test('lib: the server side derives the same key (ECDH is symmetric)', async () => {
  const server = await identityFromPrivatePem(V.server.privateKeyPem);
  assert.equal(server.publicKeyPem, V.server.publicKeyPem);
  const c = V.cases[0];
  assert.equal(await aesKeyHex(server.privateKey, c.response.publicKey), c.aesKeyHex);
});

test('lib: makeRegister3 makes a proof the server key opens', async () => {
  const server = await identityFromPrivatePem(V.server.privateKeyPem);
  const me = await newIdentity();
  const r3 = await makeRegister3(me, { handler: 'register2', publicKeyPem: V.server.publicKeyPem, t1: 1764000000000 });
  assert.equal(r3.handler, 'register3');
  assert.match(r3.publicKeySig, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(JSON.parse(r3.clearText).t1, 1764000000000);
  assert.match(r3.cypherText, /^[0-9a-f]+$/);
  assert.equal(r3.cypherText.length % 32, 0);
  assert.equal(await decryptFromPem(server.privateKey, me.publicKeyPem, r3.cypherText), r3.clearText);
  // SIG is over the DER, as node:crypto sees the key too.
  const der = nodeCrypto.createPublicKey(me.publicKeyPem).export({ type: 'spki', format: 'der' });
  assert.equal(me.sig, nodeCrypto.createHash('sha256').update(der).digest('base64url'));
});

test('lib: the vectors envelope decrypts for its recipient', async () => {
  const env = V.envelope;
  const from = V.cases.find((c) => c.response?.publicKeySig === env.from && c.clientPrivateKeyPem);
  const to = V.cases.find((c) => c.response?.publicKeySig === env.to && c.clientPrivateKeyPem);
  const toId = await identityFromPrivatePem(to.clientPrivateKeyPem);
  assert.equal(await decryptFromPem(toId.privateKey, from.response.publicKey, env.deliver.box), env.plaintext);
});

test('lib: XXH3_64bits matches libxxhash', () => {
  // Values printed by XXH3_64bits() of libxxhash 0.8.
  const known = [
    ['Z_X_vFUscLbwX18ePWXEeqzhdkkO_a2OzvPPS2lWwvU', 12637869622369033035n],
    ['12345678901234567', 16484535621865556302n],
    ['a'.repeat(100), 4692068465866116615n],
    ['b'.repeat(70), 13568685658398328087n],
    ['c'.repeat(128), 11068132753906430166n],
  ];
  for (const [s, h] of known) assert.equal(xxh3_64(Buffer.from(s)), h, s);
});

test('lib: identityOnShard lands on the asked shard', async () => {
  for (let shard = 0; shard < 4; shard++) {
    const id = await identityOnShard(shard, 4);
    assert.equal(ownerShard(id.sig, 4), shard);
  }
  assert.equal(typeof wcb.cipher, 'string');
});
