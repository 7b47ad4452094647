// The 2025 Simpatico dialect (simpaticoder/simpatico) served beside protocol
// v1, driven by a client written from upstream's SecureWebSocketClient.js and
// crypto.js with tweetnacl (tests/node/lib/simpatico2025.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import nacl from 'tweetnacl';
import { Client } from './lib/client.mjs';
import { withRelay } from './lib/harness.mjs';
import { binary } from './relay.mjs';
import {
  Conn, register, registered, generateEncryptionKeys, encryptMessage, decryptMessage, contactOf, encode, decode,
} from './lib/simpatico2025.mjs';

const KEY_RE = /^[A-Za-z0-9_-]{43}$/;
const baseOf = (r) => `ws://${r.host}:${r.port}/`;
const errorOf = (env, error) => ({ type: env.type, from: env.from, to: env.to, nonce: env.nonce, error });

async function expectFailure(r, code, closeCode = 1008) {
  assert.deepEqual(r.verdict, { type: 'REGISTER_FAILURE', error: code });
  const closed = await r.conn.closed;
  assert.equal(closed.code, closeCode);
  assert.equal(closed.reason, code);
}

test('2025: CHALLENGE shape, registration, envelopes both ways, acks', async () => {
  await withRelay([], async (r) => {
    const base = baseOf(r);
    const a = await register(base);
    assert.equal(a.challenge.type, 'CHALLENGE');
    assert.match(a.challenge.from, KEY_RE);
    assert.equal(decode(a.challenge.nonce).length, 24);
    assert.match(a.challenge.challengeText, /^Simpatico Welcomes You! /);
    assert.deepEqual(Object.keys(a.challenge), ['type', 'from', 'nonce', 'challengeText']);
    assert.deepEqual(a.verdict, { type: 'REGISTER_SUCCESS' });
    const b = await registered(base);
    // Every connection gets its own nonce.
    assert.notEqual(a.challenge.nonce, b.challenge.nonce);
    const ab = contactOf(a.user, b.user), ba = contactOf(b.user, a.user);
    for (let i = 0; i < 20; i++) {
      const env = encryptMessage(a.user, ab, { n: i, text: 'hello b' });
      a.conn.send(env);
      assert.deepEqual(await a.conn.next(), { type: 'MESSAGE_DELIVERED', from: env.from, to: env.to, nonce: env.nonce });
      const got = await b.conn.next();
      assert.deepEqual(got, env); // the envelope as sent, byte for byte
      assert.deepEqual(decryptMessage(got, ba.sharedSecret), { n: i, text: 'hello b' });
      const back = encryptMessage(b.user, ba, { n: i, text: 'hello a' });
      b.conn.send(back);
      assert.equal((await b.conn.next()).type, 'MESSAGE_DELIVERED');
      assert.deepEqual(decryptMessage(await a.conn.next(), ab.sharedSecret), { n: i, text: 'hello a' });
    }
    // Exact bytes forwarded: the recipient sees the sender's text unchanged.
    const text = JSON.stringify(encryptMessage(a.user, ab, 'x')).replace('{', '{ ');
    a.conn.send(text);
    await a.conn.next();
    await b.conn.next();
    assert.equal(b.conn.raw.at(-1), text);
    await a.conn.close();
    await b.conn.close();
  });
});

test('2025: envelopes cross shards (4 shards, 12 clients, all pairs)', async () => {
  await withRelay([], async (r) => {
    const base = baseOf(r);
    const cs = await Promise.all(Array.from({ length: 12 }, () => registered(base)));
    for (const s of cs) {
      for (const t of cs) {
        if (s === t) continue;
        const env = encryptMessage(s.user, contactOf(s.user, t.user), { to: t.user.publicKeyString });
        s.conn.send(env);
        assert.equal((await s.conn.next()).type, 'MESSAGE_DELIVERED');
        const got = await t.conn.next();
        assert.deepEqual(decryptMessage(got, contactOf(t.user, s.user).sharedSecret), { to: t.user.publicKeyString });
      }
    }
    await Promise.all(cs.map((c) => c.conn.close()));
  }, { threads: 4 });
});

test('2025: every error of the envelope router, in upstream order', async () => {
  await withRelay([], async (r) => {
    const base = baseOf(r);
    const a = await registered(base);
    const b = await registered(base);
    const ab = contactOf(a.user, b.user);
    const stranger = generateEncryptionKeys();
    // SOCKET_NOT_REGISTERED: an envelope before the CHALLENGE_RESPONSE.
    const early = new Conn(base + stranger.publicKeyString);
    await early.opened;
    await early.next(); // CHALLENGE
    const e0 = encryptMessage(stranger, ab, 'too early');
    early.send(e0);
    assert.deepEqual(await early.next(), errorOf(e0, 'SOCKET_NOT_REGISTERED'));
    await early.close();
    // MISMATCHED_SOCKET_PUBLIC_KEY: from is not the key this socket registered.
    const e1 = { ...encryptMessage(a.user, ab, 'x'), from: b.user.publicKeyString };
    a.conn.send(e1);
    assert.deepEqual(await a.conn.next(), errorOf(e1, 'MISMATCHED_SOCKET_PUBLIC_KEY'));
    // MISSING_CONTENT_FIELD: no message.
    const e2 = encryptMessage(a.user, ab, 'x');
    delete e2.message;
    a.conn.send(e2);
    assert.deepEqual(await a.conn.next(), errorOf(e2, 'MISSING_CONTENT_FIELD'));
    // MISSING_TYPE_MESSAGE: a type other than MESSAGE, and none at all.
    const e3 = encryptMessage(a.user, ab, 'x', 'HELLO');
    a.conn.send(e3);
    assert.deepEqual(await a.conn.next(), errorOf(e3, 'MISSING_TYPE_MESSAGE'));
    const e3b = encryptMessage(a.user, ab, 'x');
    delete e3b.type;
    a.conn.send(e3b);
    const { type: _t, ...noType } = errorOf(e3b, 'MISSING_TYPE_MESSAGE');
    assert.deepEqual(await a.conn.next(), noType);
    // RECIPIENT_NOT_AVAILABLE: nobody holds that key.
    const e4 = encryptMessage(a.user, contactOf(a.user, stranger), 'x');
    a.conn.send(e4);
    assert.deepEqual(await a.conn.next(), errorOf(e4, 'RECIPIENT_NOT_AVAILABLE'));
    // SOCKET_ALREADY_REGISTERED: a second CHALLENGE_RESPONSE on a registered socket.
    const again = encryptMessage(a.user, { publicKeyString: a.serverKey, sharedSecret: new Uint8Array(32) },
      a.challenge.challengeText, 'CHALLENGE_RESPONSE', false, decode(a.challenge.nonce));
    a.conn.send(again);
    assert.deepEqual(await a.conn.next(), errorOf(again, 'SOCKET_ALREADY_REGISTERED'));
    // Not JSON, and malformed fields: answered, connection kept.
    a.conn.send('not json');
    assert.deepEqual(await a.conn.next(), { error: 'BAD_JSON' });
    for (const bad of [{ nonce: 'short' }, { to: 'not-a-key' }, { message: '***' }, { nonce: 5 },
      { to: b.user.publicKeyString.slice(0, 42) + '\\u0041' }]) {
      const e = { ...encryptMessage(a.user, ab, 'x'), ...bad };
      a.conn.send(JSON.stringify(e).replace('\\\\u0041', '\\u0041'));
      const reply = await a.conn.next();
      assert.equal(reply.error, 'BAD_ENVELOPE', JSON.stringify(bad));
    }
    // The recipient saw none of it, and the sender can still send.
    assert.ok(await b.conn.quiet(200));
    a.conn.send(encryptMessage(a.user, ab, 'still fine'));
    assert.equal((await a.conn.next()).type, 'MESSAGE_DELIVERED');
    assert.equal(decryptMessage(await b.conn.next(), contactOf(b.user, a.user).sharedSecret), 'still fine');
    await a.conn.close();
    await b.conn.close();
  });
});

test('2025: a replayed or reused nonce is refused (--replay-window)', async () => {
  await withRelay([], async (r) => {
    const base = baseOf(r);
    const a = await registered(base);
    const b = await registered(base);
    const env = encryptMessage(a.user, contactOf(a.user, b.user), 'once');
    a.conn.send(env);
    assert.equal((await a.conn.next()).type, 'MESSAGE_DELIVERED');
    a.conn.send(env);
    assert.deepEqual(await a.conn.next(), errorOf(env, 'REPLAYED_NONCE'));
    // The same nonce with another ciphertext is a reuse: refused too.
    const reuse = encryptMessage(a.user, contactOf(a.user, b.user), 'twice', 'MESSAGE', true, decode(env.nonce));
    a.conn.send(reuse);
    assert.equal((await a.conn.next()).error, 'REPLAYED_NONCE');
    assert.equal(decryptMessage(await b.conn.next(), contactOf(b.user, a.user).sharedSecret), 'once');
    assert.ok(await b.conn.quiet(200));
    await a.conn.close();
    await b.conn.close();
  }, {});
  // --replay-window 0: no check.
  await withRelay(['--replay-window', '0'], async (r) => {
    const a = await registered(baseOf(r));
    const b = await registered(baseOf(r));
    const env = encryptMessage(a.user, contactOf(a.user, b.user), 'once');
    a.conn.send(env);
    a.conn.send(env);
    assert.equal((await a.conn.next()).type, 'MESSAGE_DELIVERED');
    assert.equal((await a.conn.next()).type, 'MESSAGE_DELIVERED');
    await a.conn.close();
    await b.conn.close();
  });
});

test('2025: registration refusals: REGISTER_FAILURE then close', async () => {
  await withRelay([], async (r) => {
    const base = baseOf(r);
    // The ciphertext does not open (a bit flipped).
    await expectFailure(await register(base, undefined, {
      tamper: (e) => { const c = decode(e.message); c[0] ^= 1; return { ...e, message: encode(c) }; },
    }), 'INVALID_CHALLENGE_RESPONSE');
    // Sealed with another key pair than the path names.
    const other = generateEncryptionKeys();
    await expectFailure(await register(base, undefined, {
      tamper: (e, ch) => encryptMessage({ ...other, publicKeyString: e.from },
        { publicKeyString: ch.from, sharedSecret: nacl.box.before(decode(ch.from), other.privateKeyBits) },
        ch.challengeText, 'CHALLENGE_RESPONSE', false, decode(ch.nonce)),
    }), 'INVALID_CHALLENGE_RESPONSE');
    // Another text sealed, with the right keys and nonce.
    await expectFailure(await register(base, undefined, {
      tamper: (e, ch, { user, to }) => encryptMessage(user, to, ch.challengeText + '!', 'CHALLENGE_RESPONSE', false,
        decode(ch.nonce)),
    }), 'INVALID_CHALLENGE_RESPONSE');
    // from is not the key of the path.
    await expectFailure(await register(base, undefined, { tamper: (e) => ({ ...e, from: other.publicKeyString }) }),
      'MISMATCHED_SOCKET_PUBLIC_KEY');
    // to is not the relay's key.
    await expectFailure(await register(base, undefined, { tamper: (e) => ({ ...e, to: other.publicKeyString }) }),
      'WRONG_SERVER_KEY');
    // Another nonce than the challenge's.
    await expectFailure(await register(base, undefined, { tamper: (e) => ({ ...e, nonce: encode(nacl.randomBytes(24)) }) }),
      'NONCE_MISMATCH');
    // A message that is not base64url or too short for a MAC.
    await expectFailure(await register(base, undefined, { tamper: (e) => ({ ...e, message: 'AAAA' }) }),
      'INVALID_CHALLENGE_RESPONSE');
    // A CHALLENGE_RESPONSE replayed from an earlier connection: the nonce differs.
    const first = await registered(base);
    const replayed = new Conn(base + first.user.publicKeyString);
    await replayed.opened;
    await replayed.next();
    replayed.send(encryptMessage(first.user, { publicKeyString: first.serverKey,
      sharedSecret: nacl.box.before(decode(first.serverKey), first.user.privateKeyBits) },
    first.challenge.challengeText, 'CHALLENGE_RESPONSE', false, decode(first.challenge.nonce)));
    await expectFailure({ conn: replayed, verdict: await replayed.next() }, 'NONCE_MISMATCH');
    // Any other type before registering.
    const u = generateEncryptionKeys();
    const c = new Conn(base + u.publicKeyString);
    await c.opened;
    await c.next();
    c.send({ type: 'HELLO' });
    await expectFailure({ conn: c, verdict: await c.next() }, 'UNEXPECTED_TYPE');
    // A low-order public key: libsodium refuses the all-zero shared secret.
    const zero = new Conn(base + encode(new Uint8Array(32)));
    await zero.opened;
    const ch = await zero.next();
    zero.send({ type: 'CHALLENGE_RESPONSE', from: encode(new Uint8Array(32)), to: ch.from, nonce: ch.nonce,
      message: encode(nacl.secretbox(Buffer.from(ch.challengeText), decode(ch.nonce), new Uint8Array(32))) });
    await expectFailure({ conn: zero, verdict: await zero.next() }, 'INVALID_CHALLENGE_RESPONSE');
    await first.conn.close();
  });
});

test('2025: registration times out after --register-timeout', async () => {
  await withRelay(['--register-timeout', '1'], async (r) => {
    const u = generateEncryptionKeys();
    const c = new Conn(baseOf(r) + u.publicKeyString);
    await c.opened;
    const t0 = Date.now();
    assert.equal((await c.next()).type, 'CHALLENGE');
    await expectFailure({ conn: c, verdict: await c.next(3000) }, 'REGISTRATION_TIMEOUT');
    const took = Date.now() - t0;
    assert.ok(took >= 900 && took < 2500, `timed out after ${took} ms`);
  });
});

test('2025: the same key twice: newer takes over by default, refused with --on-duplicate reject', async () => {
  await withRelay([], async (r) => {
    const base = baseOf(r);
    const older = await registered(base);
    const sender = await registered(base);
    const newer = await registered(base, older.user);
    assert.deepEqual(await older.conn.next(), { error: 'REPLACED' });
    assert.equal((await older.conn.closed).code, 4000);
    const env = encryptMessage(sender.user, contactOf(sender.user, older.user), 'to the newer');
    sender.conn.send(env);
    assert.equal((await sender.conn.next()).type, 'MESSAGE_DELIVERED');
    assert.equal(decryptMessage(await newer.conn.next(), contactOf(older.user, sender.user).sharedSecret), 'to the newer');
    await newer.conn.close();
    await sender.conn.close();
  }, { threads: 3 });
  await withRelay(['--on-duplicate', 'reject'], async (r) => {
    const base = baseOf(r);
    const first = await registered(base);
    const second = await register(base, first.user);
    await expectFailure(second, 'SOCKET_ALREADY_REGISTERED');
    // The first keeps its key.
    const sender = await registered(base);
    sender.conn.send(encryptMessage(sender.user, contactOf(sender.user, first.user), 'still yours'));
    assert.equal((await sender.conn.next()).type, 'MESSAGE_DELIVERED');
    assert.equal(decryptMessage(await first.conn.next(), contactOf(first.user, sender.user).sharedSecret), 'still yours');
    await first.conn.close();
    await sender.conn.close();
  }, { threads: 3 });
});

test('2025: --rate applies as in v1 (RATE_LIMITED past the burst)', async () => {
  await withRelay(['--rate', '1'], async (r) => {
    const a = await registered(baseOf(r));
    const b = await registered(baseOf(r));
    const codes = [];
    for (let i = 0; i < 4; i++) {
      a.conn.send(encryptMessage(a.user, contactOf(a.user, b.user), i));
      const m = await a.conn.next();
      codes.push(m.error ?? m.type);
    }
    assert.deepEqual(codes, ['MESSAGE_DELIVERED', 'MESSAGE_DELIVERED', 'RATE_LIMITED', 'RATE_LIMITED']);
    await a.conn.close();
    await b.conn.close();
  });
});

test('2025 and v1 address spaces stay apart', async () => {
  await withRelay([], async (r) => {
    const base = baseOf(r);
    const v1 = await Client.registered(r.url);
    const d = await registered(base);
    // A 2025 envelope to a v1 SIG (it is 43 base64url characters too).
    const toSig = { ...encryptMessage(d.user, contactOf(d.user, generateEncryptionKeys()), 'x'), to: v1.sig };
    d.conn.send(toSig);
    assert.deepEqual(await d.conn.next(), errorOf(toSig, 'RECIPIENT_NOT_AVAILABLE'));
    // A v1 envelope to a 2025 key.
    v1.deliver(d.user.publicKeyString, 'ab', 'id1');
    const err = await v1.next((m) => m.handler === 'error' || m.handler === 'delivered');
    assert.equal(err.error, 'RECIPIENT_NOT_AVAILABLE');
    // A v1 look-up of a 2025 key finds nothing.
    v1.send({ handler: 'invite3', publicKeySig: d.user.publicKeyString });
    assert.equal((await v1.next((m) => m.handler === 'invite4')).error, 'RECIPIENT_NOT_AVAILABLE');
    assert.ok(await d.conn.quiet(200));
    // A path that is not a key is v1's: register2 comes.
    const c = await Client.connect(`ws://${r.host}:${r.port}/` + d.user.publicKeyString.slice(1));
    assert.ok(c.register2);
    await c.close();
    await v1.close();
    await d.conn.close();
  }, { threads: 2 });
});

test('2025: keygen --x25519 and --key-x25519: the CHALLENGE names that key', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'd25-'));
  const file = path.join(dir, 'x25519.key');
  const pub = execFileSync(binary(), ['keygen', '--x25519', file]).toString().trim();
  assert.match(pub, KEY_RE);
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  const secret = fs.readFileSync(file, 'utf8').trim();
  // The file is tweetnacl's privateKeyString: its public key is the one printed.
  assert.equal(encode(nacl.box.keyPair.fromSecretKey(decode(secret)).publicKey), pub);
  // keygen never overwrites.
  assert.throws(() => execFileSync(binary(), ['keygen', '--x25519', file], { stdio: 'ignore' }));
  await withRelay(['--key-x25519', file], async (r) => {
    const a = await registered(baseOf(r));
    assert.equal(a.serverKey, pub);
    await a.conn.close();
  });
  fs.writeFileSync(path.join(dir, 'bad.key'), 'not a key\n');
  assert.throws(() => execFileSync(binary(), ['--key-x25519', path.join(dir, 'bad.key')], { stdio: 'pipe' }),
    (e) => e.status === 2 && /--key-x25519/.test(e.stderr.toString()));
  // check-config reads the key as a start would.
  const conf = path.join(dir, 'reflector.conf');
  fs.writeFileSync(conf, `key-x25519 = ${path.join(dir, 'bad.key')}\n`);
  assert.throws(() => execFileSync(binary(), ['check-config', conf], { stdio: 'pipe' }),
    (e) => e.status === 2 && /--key-x25519/.test(e.stderr.toString()));
  fs.writeFileSync(conf, `key-x25519 = ${file}\nreplay-window = 1024\n`);
  const printed = execFileSync(binary(), ['check-config', conf]).toString();
  assert.match(printed, /^replay-window = 1024 /m);
  fs.rmSync(dir, { recursive: true });
});

test('2025: hostile input: oversize, bad UTF-8, binary, a proof flood (BUSY); counted in /metrics', async () => {
  const { freePort } = await import('./relay.mjs');
  const mport = await freePort();
  await withRelay(['--max-message', '1024', '--registration-rate-per-ip', '1', '--metrics-listen', `127.0.0.1:${mport}`],
    async (r) => {
      const base = baseOf(r);
      const a = await registered(base);
      const b = await registered(base);
      // A third CHALLENGE_RESPONSE within the second: over the per-address burst of 2.
      const busy = await register(base);
      await expectFailure(busy, 'BUSY', 1013);
      // Over --max-message: closed 1009, like v1.
      const big = { ...encryptMessage(a.user, contactOf(a.user, b.user), 'x'), message: 'A'.repeat(2000) };
      a.conn.send(big);
      assert.equal((await a.conn.closed).code, 1009);
      // Bad UTF-8 and binary frames are the runtime's: 1007 and 1003.
      b.conn.ws.send(Buffer.from([0x7b, 0xff, 0x7d]), { binary: false });
      assert.equal((await b.conn.closed).code, 1007);
      const u = generateEncryptionKeys();
      const c = new Conn(base + u.publicKeyString);
      await c.opened;
      await c.next();
      c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
      assert.equal((await c.closed).code, 1003);
      // Garbage text before registering is answered; the registration goes on.
      const g = new Conn(base + generateEncryptionKeys().publicKeyString);
      await g.opened;
      await g.next();
      g.send('\u0000garbage');
      assert.deepEqual(await g.next(), { error: 'BAD_JSON' });
      await g.close();
      const text = await (await fetch(`http://127.0.0.1:${mport}/metrics`)).text();
      const value = (name) => Number((text.match(new RegExp(`^${name} (\\d+)`, 'm')) || [])[1]);
      assert.equal(value('reflector_d25_registered_total'), 2);
      assert.equal(value('reflector_d25_register_failed_total'), 1);
      assert.equal(value('reflector_d25_register_busy_total'), 1);
      assert.ok(value('reflector_d25_received_challenge_response_total') >= 3);
    });
});

test('2025: backlog as v1: a recipient that stops reading -> RECIPIENT_BACKLOGGED to the sender', async () => {
  await withRelay(['--max-queued', '65536'], async (r) => {
    const a = await registered(baseOf(r));
    const b = await registered(baseOf(r));
    b.conn.ws._socket.pause();
    const ab = contactOf(a.user, b.user);
    const big = 'x'.repeat(2200); // about 3 KB of base64url once sealed
    let sent = 0;
    let backlogged = null;
    const start = Date.now();
    while (!backlogged && sent < 8000 && Date.now() - start < 40000) {
      for (let i = 0; i < 50; i++, sent++) a.conn.send(encryptMessage(a.user, ab, big));
      await new Promise((res) => setTimeout(res, 60)); // ~830/s, under --rate
      while (a.conn.queue.length) {
        const m = a.conn.queue.shift();
        if (m.error === 'RECIPIENT_BACKLOGGED') backlogged = m;
        else assert.equal(m.type, 'MESSAGE_DELIVERED', JSON.stringify(m));
      }
    }
    assert.ok(backlogged, `no RECIPIENT_BACKLOGGED after ${sent} envelopes`);
    assert.equal(backlogged.to, b.user.publicKeyString);
    assert.equal(backlogged.type, 'MESSAGE');
    b.conn.ws.terminate();
    await a.conn.close();
  });
});

test('2025: --replay-window is reloaded by SIGHUP and applies to later registrations', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'd25-reload-'));
  const conf = path.join(dir, 'reflector.conf');
  fs.writeFileSync(conf, 'replay-window = 0\n');
  await withRelay(['--config', conf], async (r) => {
    const base = baseOf(r);
    const a = await registered(base);
    const b = await registered(base);
    const twice = async (s, t) => {
      const env = encryptMessage(s.user, contactOf(s.user, t.user), 'again');
      s.conn.send(env);
      s.conn.send(env);
      // The refusal is the sender's shard's, the ack the recipient's: either may come first.
      const got = [await s.conn.next(), await s.conn.next()].map((m) => m.error ?? m.type);
      return got.sort();
    };
    assert.deepEqual(await twice(a, b), ['MESSAGE_DELIVERED', 'MESSAGE_DELIVERED']);
    fs.writeFileSync(conf, 'replay-window = 8\n');
    r.proc.kill('SIGHUP');
    const deadline = Date.now() + 5000;
    while (!/reload done/.test(r.out) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
    assert.match(r.out, /replay-window 0 -> 8/);
    const c = await registered(base);
    assert.deepEqual(await twice(c, b), ['MESSAGE_DELIVERED', 'REPLAYED_NONCE']);
    // A registration from before the reload keeps the window it had.
    assert.deepEqual(await twice(a, b), ['MESSAGE_DELIVERED', 'MESSAGE_DELIVERED']);
    for (const x of [a, b, c]) await x.conn.close();
  }, { logLevel: 'info' });
  fs.rmSync(dir, { recursive: true });
});
