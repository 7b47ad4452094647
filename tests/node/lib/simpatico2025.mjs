// A client of the 2025 Simpatico dialect, written from simpaticoder/simpatico's
// lab/websocket/crypto.js and SecureWebSocketClient.js (the same tweetnacl
// calls, the same envelope shapes), over the `ws` package instead of the
// browser's WebSocket, with a queue of what arrives so tests can await it.
import nacl from 'tweetnacl';
import WebSocket from 'ws';

// crypto.js: base64url without padding, UTF-8 text.
export function encode(bytes) {
  return Buffer.from(bytes).toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
export function decode(str) {
  str = str.replace(/-/g, '+').replace(/_/g, '/');
  while (str.length % 4) str += '=';
  return new Uint8Array(Buffer.from(str, 'base64'));
}
const stringToBits = (s) => new Uint8Array(Buffer.from(s, 'utf-8'));
const bitsToString = (a) => Buffer.from(a).toString('utf-8');

export function generateEncryptionKeys() {
  const kp = nacl.box.keyPair();
  return {
    publicKeyBits: kp.publicKey,
    publicKeyString: encode(kp.publicKey),
    privateKeyBits: kp.secretKey,
    privateKeyString: encode(kp.secretKey),
    contacts: {},
  };
}
export const deriveSharedSecret = (privateKeyBits, publicKeyBits) => nacl.box.before(publicKeyBits, privateKeyBits);
export const getRandomValues = (n = nacl.secretbox.nonceLength) => nacl.randomBytes(n);

export function encryptMessage(from, to, clearMessage, type = 'MESSAGE', isJSON = true, nonceBits = getRandomValues()) {
  clearMessage = isJSON ? JSON.stringify(clearMessage) : clearMessage;
  const cipherBits = nacl.secretbox(stringToBits(clearMessage), nonceBits, to.sharedSecret);
  return { type, from: from.publicKeyString, to: to.publicKeyString, nonce: encode(nonceBits), message: encode(cipherBits) };
}
export function decryptMessage(envelope, sharedSecret, isJSON = true) {
  const clear = nacl.secretbox.open(decode(envelope.message), decode(envelope.nonce), sharedSecret);
  if (!clear) throw new Error('secretbox.open failed');
  const s = bitsToString(clear);
  return isJSON ? JSON.parse(s) : s;
}
// A contact as SecureWebSocketClient.send expects it: key and shared secret.
export function contactOf(user, other) {
  return { publicKeyString: other.publicKeyString, sharedSecret: deriveSharedSecret(user.privateKeyBits, other.publicKeyBits) };
}

// One WebSocket with a queue of parsed messages and the close it ended with.
export class Conn {
  constructor(url) {
    this.ws = new WebSocket(url);
    this.queue = [];
    this.waiters = [];
    this.raw = [];
    this.closed = new Promise((resolve) => {
      this.ws.on('close', (code, reason) => { resolve({ code, reason: reason.toString() }); this._wake(); });
    });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', resolve);
      this.ws.once('error', reject);
      this.ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    this.ws.on('message', (data) => {
      const text = data.toString();
      this.raw.push(text);
      let m;
      try { m = JSON.parse(text); } catch { m = { unparsed: text }; }
      this.queue.push(m);
      this._wake();
    });
  }
  _wake() { const w = this.waiters; this.waiters = []; for (const f of w) f(); }
  // The next message, or an error after ms.
  async next(ms = 5000) {
    const deadline = Date.now() + ms;
    while (!this.queue.length) {
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error('closed while waiting for a message');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no message within ' + ms + ' ms');
      await new Promise((r) => { const t = setTimeout(r, left); this.waiters.push(() => { clearTimeout(t); r(); }); });
    }
    return this.queue.shift();
  }
  // Nothing arrives within ms.
  async quiet(ms = 300) {
    await new Promise((r) => setTimeout(r, ms));
    return this.queue.length === 0;
  }
  send(obj) { this.ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj)); }
  close() { this.ws.close(); return this.closed; }
}

// SecureWebSocketClient's handleRegistration, one step at a time: the
// CHALLENGE, the sealed answer (reusing the server's nonce), the verdict.
export async function register(base, user = generateEncryptionKeys(), { tamper } = {}) {
  const conn = new Conn(base + user.publicKeyString);
  await conn.opened;
  const challenge = await conn.next();
  if (challenge.type !== 'CHALLENGE') throw new Error('expected CHALLENGE, got ' + JSON.stringify(challenge));
  const sharedSecret = deriveSharedSecret(user.privateKeyBits, decode(challenge.from));
  const to = { publicKeyString: challenge.from, sharedSecret };
  let response = encryptMessage(user, to, challenge.challengeText, 'CHALLENGE_RESPONSE', false, decode(challenge.nonce));
  if (tamper) response = tamper(response, challenge, { user, to });
  conn.send(response);
  const verdict = await conn.next();
  return { conn, user, challenge, verdict, serverKey: challenge.from };
}

export async function registered(base, user) {
  const r = await register(base, user);
  if (r.verdict.type !== 'REGISTER_SUCCESS') throw new Error('not registered: ' + JSON.stringify(r.verdict));
  return r;
}
