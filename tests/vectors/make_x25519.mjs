// Makes tests/vectors/x25519.json: the 2025 dialect's crypto as tweetnacl
// (the library upstream's crypto.js uses) computes it, so the relay's
// libsodium code can be checked against it byte for byte
// (tests/unit/test_d25.c). Deterministic: every key and nonce comes from
// nacl.hash of a label. Run from the repository: node tests/vectors/make_x25519.mjs
import nacl from 'tweetnacl';
import fs from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const version = require('tweetnacl/package.json').version;
const encode = (b) => Buffer.from(b).toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const bytes = (label, n) => nacl.hash(Buffer.from(label)).slice(0, n);
const keyPair = (label) => nacl.box.keyPair.fromSecretKey(bytes(label, 32));
const hex = (b) => Buffer.from(b).toString('hex');

const server = keyPair('reflector x25519 vectors: server');
const challengeText = 'Simpatico Welcomes You! Wed Dec 02 2026 17:00:00 GMT+0000 (Coordinated Universal Time)';

function response(name, client, { text = challengeText, sealWith = client, nonceLabel = name, flip = false, expect }) {
  const nonce = bytes('nonce ' + nonceLabel, 24);
  const shared = nacl.box.before(server.publicKey, sealWith.secretKey);
  const cipher = nacl.secretbox(Buffer.from(text), nonce, shared);
  if (flip) cipher[cipher.length - 1] ^= 0x80;
  return {
    name,
    clientSecretKey: encode(client.secretKey),
    clientPublicKey: encode(client.publicKey),
    sharedKeyHex: hex(nacl.box.before(client.publicKey, server.secretKey)),
    challengeText,
    envelope: { type: 'CHALLENGE_RESPONSE', from: encode(client.publicKey), to: encode(server.publicKey),
      nonce: encode(nonce), message: encode(cipher) },
    expect,
  };
}

const cases = [];
for (let i = 0; i < 4; i++)
  cases.push(response(`valid-${i}`, keyPair('client ' + i), { expect: 'REGISTER_SUCCESS' }));
cases.push(response('bit-flipped', keyPair('client 0'), { flip: true, expect: 'INVALID_CHALLENGE_RESPONSE' }));
cases.push(response('other-text', keyPair('client 1'), { text: challengeText + '!', expect: 'INVALID_CHALLENGE_RESPONSE' }));
cases.push(response('sealed-by-another-key', keyPair('client 2'), { sealWith: keyPair('intruder'),
  expect: 'INVALID_CHALLENGE_RESPONSE' }));
// A low-order key: tweetnacl derives the all-zero shared key and would open
// this; libsodium's crypto_box_beforenm refuses it, and so does the relay.
{
  const zero = { publicKey: new Uint8Array(32), secretKey: new Uint8Array(32) };
  const nonce = bytes('nonce low-order', 24);
  const cipher = nacl.secretbox(Buffer.from(challengeText), nonce, nacl.box.before(zero.publicKey, server.secretKey));
  cases.push({ name: 'low-order-key', clientPublicKey: encode(zero.publicKey),
    sharedKeyHex: hex(nacl.box.before(zero.publicKey, server.secretKey)), challengeText,
    envelope: { type: 'CHALLENGE_RESPONSE', from: encode(zero.publicKey), to: encode(server.publicKey),
      nonce: encode(nonce), message: encode(cipher) },
    expect: 'INVALID_CHALLENGE_RESPONSE', tweetnaclOpens: nacl.secretbox.open(cipher, nonce,
      nacl.box.before(zero.publicKey, server.secretKey)) !== null });
}

const base64url = [];
for (const n of [0, 1, 2, 3, 24, 32, 33, 100]) {
  const b = bytes('base64url ' + n, Math.min(n, 64));
  const full = n > 64 ? Buffer.concat([b, bytes('more', n - 64)]) : b;
  base64url.push({ hex: hex(full), text: encode(full) });
}

const out = {
  description: 'The 2025 Simpatico dialect (simpaticoder/simpatico, lab/websocket/crypto.js): CHALLENGE_RESPONSE ' +
    'envelopes sealed with nacl.secretbox under nacl.box.before(server public key, client secret key). Keys and ' +
    'nonces are unpadded base64url. expect: what the relay answers.',
  generator: 'tests/vectors/make_x25519.mjs',
  tweetnacl: version,
  server: { secretKey: encode(server.secretKey), publicKey: encode(server.publicKey) },
  cases,
  base64url,
  badBase64url: ['A', 'AB=', 'AC', 'AAB', 'AA+A', 'AA/A', 'AA A', 'AAA=', 'AAAAB'],
};
fs.writeFileSync(new URL('./x25519.json', import.meta.url), JSON.stringify(out, null, 2) + '\n');
