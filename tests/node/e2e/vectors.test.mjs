// The relay with the vectors' server key (--key FILE) against the interop
// vectors (shared/vectors/registration.json, webcryptobox 4.0.0).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, identityFromPrivatePem, aesKeyHex } from '../lib/client.mjs';
import { Relay, expectRefused, expectOpen } from '../lib/harness.mjs';
import { loadVectors } from '../lib/vectors.mjs';

const V = loadVectors();
let relay;
let dir;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reflector-e2e-'));
  const keyFile = path.join(dir, 'server.pem');
  fs.writeFileSync(keyFile, `${V.server.privateKeyPem}\n`, { mode: 0o600 });
  relay = await Relay.start(['--key', keyFile]);
});
after(async () => {
  try {
    await relay?.stop();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('vectors: register2 offers the vectors server key', async () => {
  const c = await Client.connect(relay.url);
  try {
    assert.equal(c.register2.publicKeyPem, V.server.publicKeyPem);
  } finally {
    await c.close();
  }
});

test('vectors: valid-0 replayed as is -> T1_MISMATCH (t1 is per connection)', async () => {
  const valid0 = V.cases.find((c) => c.name === 'valid-0');
  const c = await Client.connect(relay.url);
  try {
    assert.notEqual(c.register2.t1, valid0.t1);
    c.send(valid0.response);
    await expectRefused(c, 'T1_MISMATCH');
  } finally {
    c.terminate();
  }
});

test('vectors: every valid case key registers with a fresh proof, same key and SIG', async () => {
  for (const v of V.cases.filter((x) => x.expect === 'VERIFIED')) {
    const identity = await identityFromPrivatePem(v.clientPrivateKeyPem);
    assert.equal(await aesKeyHex(identity.privateKey, V.server.publicKeyPem), v.aesKeyHex, v.name);
    const c = await Client.connect(relay.url, { identity });
    try {
      assert.deepEqual(await c.register(), { handler: 'register4', state2: 'VERIFIED' }, v.name);
      assert.equal(c.sig, v.response.publicKeySig);
      await expectOpen(c, v.name);
    } finally {
      await c.close();
    }
  }
});

test('vectors: a fresh webcryptobox key registers against the vectors key', async () => {
  const c = await Client.connect(relay.url);
  try {
    assert.equal((await c.register()).state2, 'VERIFIED');
  } finally {
    await c.close();
  }
});
