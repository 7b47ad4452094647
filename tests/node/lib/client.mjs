// A protocol-v1 test client for the relay (shared/protocol.md), over npm `ws`,
// doing its crypto with webcryptobox 4.0.0 the way the browser chat does:
// ECDH P-521 key pairs, SPKI PEM public keys, AES-256-CBC boxes (16-byte IV
// prepended) under the key derived from ECDH, hex on the wire.
//
// Every wait has a timeout, so a silent relay fails a test instead of hanging it.
import WebSocket from 'ws';
import nodeCrypto from 'node:crypto';
import fs from 'node:fs';
import * as wcb from 'webcryptobox';
import { ownerShard } from './xxh3.mjs';

export { wcb, ownerShard };

export const DEFAULT_TIMEOUT_MS = 5000;
export const SIG_RE = /^[A-Za-z0-9_-]{43}$/;

// ---------------------------------------------------------------- keys

// DER SubjectPublicKeyInfo of a PEM public key.
export function pemToDer(pem) {
  const body = pem.replace(/-----(BEGIN|END) PUBLIC KEY-----/g, '').replace(/\s+/g, '');
  return Buffer.from(body, 'base64');
}

// SIG = base64url(SHA-256(DER SPKI)), unpadded (node's base64url never pads).
export function sigOfDer(der) {
  return nodeCrypto.createHash('sha256').update(der).digest('base64url');
}

export function sigOfPem(pem) {
  return sigOfDer(pemToDer(pem));
}

// A P-521 identity: { privateKey, publicKey, publicKeyPem, sig }.
export async function newIdentity() {
  const { privateKey, publicKey } = await wcb.generateKeyPair();
  const publicKeyPem = await wcb.exportPublicKeyPem(publicKey);
  return { privateKey, publicKey, publicKeyPem, sig: sigOfPem(publicKeyPem) };
}

// The identity of a PKCS#8 PEM private key (the vectors' clientPrivateKeyPem).
export async function identityFromPrivatePem(privateKeyPem) {
  const privateKey = await wcb.importPrivateKeyPem(privateKeyPem);
  const publicKey = await wcb.getPublicKey(privateKey);
  const publicKeyPem = await wcb.exportPublicKeyPem(publicKey);
  return { privateKey, publicKey, publicKeyPem, sig: sigOfPem(publicKeyPem) };
}

// An identity whose SIG the relay places on shard `shard` of `shards`
// (owner shard = XXH3_64bits(SIG, 43) % shards). Bounded: gives up after
// maxTries key pairs (P(miss) = (1 - 1/shards)^maxTries).
export async function identityOnShard(shard, shards, maxTries = 64 * shards) {
  for (let i = 0; i < maxTries; i++) {
    const id = await newIdentity();
    if (ownerShard(id.sig, shards) === shard) return id;
  }
  throw new Error(`no key pair for shard ${shard}/${shards} in ${maxTries} tries`);
}

// The raw AES-256 key (hex) that webcryptobox derives from ECDH(private, peer public).
export async function aesKeyHex(privateKey, peerPublicKeyPem) {
  const publicKey = await wcb.importPublicKeyPem(peerPublicKeyPem);
  const key = await wcb.deriveKey({ privateKey, publicKey });
  return wcb.encodeHex(await wcb.exportKey(key));
}

// Imported public keys by PEM (bounded). Importing a P-521 key costs node
// ~2.5 ms of main-thread time; a page imports the server key once too.
const imported = new Map();
export function importPublicKeyPemCached(pem) {
  let p = imported.get(pem);
  if (!p) {
    if (imported.size >= 4096) imported.clear();
    p = wcb.importPublicKeyPem(pem);
    p.catch(() => imported.delete(pem));
    imported.set(pem, p);
  }
  return p;
}

// hex(IV || AES-256-CBC(text)) to a peer's public key, as the chat's encryptTo.
export async function encryptToPem(privateKey, peerPublicKeyPem, text) {
  const publicKey = await importPublicKeyPemCached(peerPublicKeyPem);
  const box = await wcb.encryptTo({ message: wcb.decodeText(text), privateKey, publicKey });
  return wcb.encodeHex(box);
}

export async function decryptFromPem(privateKey, peerPublicKeyPem, boxHex) {
  const publicKey = await importPublicKeyPemCached(peerPublicKeyPem);
  const message = await wcb.decryptFrom({ box: wcb.decodeHex(boxHex), privateKey, publicKey });
  return wcb.encodeText(message);
}

// ---------------------------------------------------------------- register3

// The seed client's proof for a register2 challenge.
export async function makeRegister3(identity, register2, { t2 = Date.now() } = {}) {
  const t1 = register2.t1;
  const clearText = JSON.stringify({ t1, t2, dt: t2 - t1 });
  const cypherText = await encryptToPem(identity.privateKey, register2.publicKeyPem, clearText);
  return {
    handler: 'register3',
    clearText,
    cypherText,
    publicKeySig: identity.sig,
    publicKey: identity.publicKeyPem,
  };
}

function flipHexDigit(hex, index) {
  const d = hex[index];
  const flipped = (parseInt(d, 16) ^ 0x1).toString(16);
  return hex.slice(0, index) + flipped + hex.slice(index + 1);
}

// Kinds of broken register3 replies and the register4 error each must get.
export const BAD_REGISTER3 = {
  'garbage-pem': 'BAD_PUBLIC_KEY',
  'pem-not-a-string': 'BAD_PUBLIC_KEY',
  'wrong-curve-p256': 'WRONG_CURVE',
  'sig-mismatch': 'SIG_MISMATCH',
  'sig-padded': 'SIG_MISMATCH',
  'cleartext-not-json': 'BAD_CLEARTEXT',
  'cleartext-t1-string': 'BAD_CLEARTEXT',
  'cleartext-missing': 'BAD_CLEARTEXT',
  't1-of-another-challenge': 'T1_MISMATCH',
  'cyphertext-odd-hex': 'BAD_CYPHERTEXT',
  'cyphertext-non-hex': 'BAD_CYPHERTEXT',
  'cyphertext-too-short': 'BAD_CYPHERTEXT',
  'cyphertext-tampered': 'PROOF_FAILED',
  'cleartext-mismatch': 'PROOF_FAILED',
  'encrypted-to-other-server': 'PROOF_FAILED',
};

// A register3 reply to `register2` broken in one way (a key of BAD_REGISTER3);
// every other field is right, so the relay must name exactly that fault.
// `otherT1` is a t1 issued to another connection, for 't1-of-another-challenge'.
export async function badRegister3(kind, identity, register2, { otherT1 } = {}) {
  const good = await makeRegister3(identity, register2);
  const t1 = register2.t1;
  const proofOf = async (clearText) =>
    encryptToPem(identity.privateKey, register2.publicKeyPem, clearText);
  switch (kind) {
    case 'garbage-pem':
      return { ...good, publicKey: '-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5IGF0IGFsbA==\n-----END PUBLIC KEY-----' };
    case 'pem-not-a-string':
      return { ...good, publicKey: 42 };
    case 'wrong-curve-p256': {
      const { publicKey } = nodeCrypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      const der = publicKey.export({ type: 'spki', format: 'der' });
      const pem = publicKey.export({ type: 'spki', format: 'pem' }).trim();
      return { ...good, publicKey: pem, publicKeySig: sigOfDer(der) };
    }
    case 'sig-mismatch': {
      const other = await newIdentity();
      return { ...good, publicKeySig: other.sig };
    }
    case 'sig-padded':
      return { ...good, publicKeySig: `${identity.sig}=` };
    case 'cleartext-not-json': {
      const clearText = 'not json at all';
      return { ...good, clearText, cypherText: await proofOf(clearText) };
    }
    case 'cleartext-t1-string': {
      const clearText = JSON.stringify({ t1: String(t1), t2: t1 + 1, dt: 1 });
      return { ...good, clearText, cypherText: await proofOf(clearText) };
    }
    case 'cleartext-missing': {
      const { clearText, ...rest } = good;
      return rest;
    }
    case 't1-of-another-challenge': {
      const t = otherT1 ?? t1 - 1;
      const clearText = JSON.stringify({ t1: t, t2: t + 5, dt: 5 });
      return { ...good, clearText, cypherText: await proofOf(clearText) };
    }
    case 'cyphertext-odd-hex':
      return { ...good, cypherText: good.cypherText.slice(0, -1) };
    case 'cyphertext-non-hex':
      return { ...good, cypherText: `zz${good.cypherText.slice(2)}` };
    case 'cyphertext-too-short':
      // 16 bytes: an IV without a single cipher block.
      return { ...good, cypherText: good.cypherText.slice(0, 32) };
    case 'cyphertext-tampered':
      // One digit in the first cipher block: CBC garbles that block, so
      // the plaintext cannot equal clearText (or the padding breaks).
      return { ...good, cypherText: flipHexDigit(good.cypherText, 40) };
    case 'cleartext-mismatch': {
      // The proof is of the original text; the sent clearText differs.
      const clearText = JSON.stringify({ t1, t2: t1 + 999, dt: 999 });
      return { ...good, clearText };
    }
    case 'encrypted-to-other-server': {
      const other = await newIdentity();
      return { ...good, cypherText: await encryptToPem(identity.privateKey, other.publicKeyPem, good.clearText) };
    }
    default:
      throw new Error(`unknown bad register3 kind ${kind}`);
  }
}

// ---------------------------------------------------------------- client

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class Client {
  constructor(ws, identity) {
    this.ws = ws;
    this.identity = identity;
    this.register2 = null;
    this.queue = []; // [{ text, msg }] not yet taken by next()
    this.waiters = new Set();
    this.closeInfo = null;
    this.received = 0;
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        for (const w of [...this.waiters]) w.onClose();
        resolve(this.closeInfo);
      });
    });
    ws.on('error', () => {}); // surfaced as a close
    ws.on('message', (data, isBinary) => {
      this.received++;
      const text = data.toString('utf8');
      let msg;
      try {
        msg = isBinary ? { binary: true } : JSON.parse(text);
      } catch {
        msg = { unparsable: text };
      }
      const entry = { text, msg };
      for (const w of this.waiters) {
        if (w.match(entry)) { w.take(entry); return; }
      }
      this.queue.push(entry);
    });
  }

  get sig() { return this.identity.sig; }
  get publicKeyPem() { return this.identity.publicKeyPem; }

  // Opens a connection and waits for register2. A fresh identity unless given.
  static async connect(url, { identity, timeoutMs = DEFAULT_TIMEOUT_MS, protocols, wsOptions = {} } = {}) {
    const id = identity ?? await newIdentity();
    // wss:// trusts the test CA the relay's certificate comes from (relay.mjs).
    const ca = url.startsWith('wss:') && process.env.TEST_TLS_CA ? { ca: fs.readFileSync(process.env.TEST_TLS_CA) } : {};
    const ws = new WebSocket(url, protocols, { handshakeTimeout: timeoutMs, perMessageDeflate: false, ...ca, ...wsOptions });
    const client = new Client(ws, id);
    await new Promise((resolve, reject) => {
      const t = setTimeout(() => { ws.terminate(); reject(new Error('open timeout')); }, timeoutMs);
      ws.once('open', () => { clearTimeout(t); resolve(); });
      ws.once('error', (e) => { clearTimeout(t); reject(e); });
      ws.once('unexpected-response', (req, res) => {
        clearTimeout(t);
        reject(new Error(`unexpected HTTP response ${res.statusCode}`));
      });
    });
    client.register2 = await client.next((m) => m.handler === 'register2', timeoutMs);
    return client;
  }

  // Connects and registers; resolves with a VERIFIED client or throws.
  static async registered(url, opts = {}) {
    const c = await Client.connect(url, opts);
    try {
      const r4 = await c.register({ timeoutMs: opts.registerTimeoutMs ?? opts.timeoutMs });
      if (r4.state2 !== 'VERIFIED') throw new Error(`not verified: ${JSON.stringify(r4)}`);
    } catch (e) {
      c.terminate();
      throw e;
    }
    return c;
  }

  // Sends a proper register3 and resolves with the register4 answer.
  async register({ timeoutMs = DEFAULT_TIMEOUT_MS } = {}) {
    this.send(await makeRegister3(this.identity, this.register2));
    return this.next((m) => m.handler === 'register4', timeoutMs);
  }

  // Sends an object as JSON, or a string as is.
  send(obj) {
    const text = typeof obj === 'string' ? obj : JSON.stringify(obj);
    this.ws.send(text);
    return text;
  }

  // The next message (parsed) matching predicate, oldest first; messages that
  // do not match stay queued for later calls. Rejects on timeout or close.
  async next(predicate = () => true, timeoutMs = DEFAULT_TIMEOUT_MS) {
    return (await this.nextRaw(predicate, timeoutMs)).msg;
  }

  // As next(), resolving with { text, msg }: the message's exact text too.
  nextRaw(predicate = () => true, timeoutMs = DEFAULT_TIMEOUT_MS) {
    const match = (e) => predicate(e.msg, e.text);
    const i = this.queue.findIndex(match);
    if (i >= 0) return Promise.resolve(this.queue.splice(i, 1)[0]);
    return new Promise((resolve, reject) => {
      const w = {
        match,
        take: (e) => { done(); resolve(e); },
        onClose: () => {
          done();
          reject(new Error(`closed (${this.closeInfo.code} ${this.closeInfo.reason}) while waiting for a message`));
        },
      };
      const t = setTimeout(() => {
        done();
        reject(new Error(`timeout (${timeoutMs} ms) waiting for a message; queued: ${this.queue.slice(0, 3).map((e) => e.text.slice(0, 200)).join(' | ')}`));
      }, timeoutMs);
      const done = () => { clearTimeout(t); this.waiters.delete(w); };
      if (this.closeInfo) { w.onClose(); return; }
      this.waiters.add(w);
    });
  }

  // Resolves true when no message matching predicate arrives within ms.
  async nothing(predicate = () => true, ms = 300) {
    try {
      const m = await this.next(predicate, ms);
      throw Object.assign(new Error(`unexpected message ${JSON.stringify(m).slice(0, 300)}`), { unexpected: true });
    } catch (e) {
      if (e.unexpected) throw e;
      return true;
    }
  }

  // A deliverEnvelop from this client; resolves with the exact text sent.
  deliver(toSig, boxHex, id, extra = {}) {
    const env = { handler: 'deliverEnvelop', from: this.sig, to: toSig, box: boxHex, ...extra };
    if (id !== undefined) env.id = id;
    return this.send(env);
  }

  encryptTo(peerPublicKeyPem, text) {
    return encryptToPem(this.identity.privateKey, peerPublicKeyPem, text);
  }

  decryptFrom(peerPublicKeyPem, boxHex) {
    return decryptFromPem(this.identity.privateKey, peerPublicKeyPem, boxHex);
  }

  // One ping/pong round trip; resolves with { rttMs, pong }.
  async ping(t = `p${Math.random()}`, timeoutMs = DEFAULT_TIMEOUT_MS) {
    const start = performance.now();
    this.send({ handler: 'ping', t });
    const pong = await this.next((m) => m.handler === 'pong' && m.t === t, timeoutMs);
    return { rttMs: performance.now() - start, pong };
  }

  // Resolves with { code, reason } once the relay closes the connection.
  async waitClosed(timeoutMs = DEFAULT_TIMEOUT_MS) {
    let t;
    const timeout = new Promise((_, reject) => {
      t = setTimeout(() => reject(new Error(`connection not closed within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(t);
    }
  }

  // Clean close (bounded); falls back to terminate.
  async close(timeoutMs = 2000) {
    if (this.closeInfo) return this.closeInfo;
    try {
      this.ws.close(1000);
      return await this.waitClosed(timeoutMs);
    } catch {
      this.terminate();
      return this.closeInfo;
    }
  }

  terminate() {
    try { this.ws.terminate(); } catch { /* already gone */ }
  }
}

// Runs fn over items with at most `limit` at once; bounded by the items.
export async function pool(items, limit, fn) {
  const results = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

// Rejects after ms with a message, for racing whole scenarios.
export function withTimeout(promise, ms, what) {
  let t;
  return Promise.race([
    promise.finally(() => clearTimeout(t)),
    new Promise((_, reject) => { t = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms); }),
  ]);
}

export { sleep };
