// Keys and boxes, the way the browser chat does them with webcryptobox
// 4.0.0: an ECDH P-521 key pair per tab, SPKI PEM public keys, and
// hex(IV || AES-256-CBC) boxes under the key ECDH derives.
//
// 'webcryptobox' is a bare specifier on purpose: Node finds it in
// node_modules, and `make www` rewrites it in the web root's copy to the
// vendored file (a page under a strict CSP can have no inline import map).
import * as wcb from 'webcryptobox';

const SIG_RE = /^[A-Za-z0-9_-]{43}$/;

export function isSig(s) {
  return typeof s === 'string' && SIG_RE.test(s);
}

function base64url(bytes) {
  return wcb.encodeBase64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

// SIG = base64url(SHA-256(DER SPKI)), unpadded (protocol.md).
export async function sigOfKey(publicKey) {
  return base64url(await wcb.sha256Fingerprint(publicKey));
}

// Imported peer keys by PEM. A P-521 import costs milliseconds and a chat
// talks to few peers, so a small map with a hard cap is enough.
const MAX_CACHED_KEYS = 256;
const imported = new Map();

export function importPeerKey(pem) {
  let p = imported.get(pem);
  if (!p) {
    if (imported.size >= MAX_CACHED_KEYS) imported.clear();
    p = wcb.importPublicKeyPem(pem);
    // A PEM that failed to import must not stay cached as a rejection.
    p.catch(() => imported.delete(pem));
    imported.set(pem, p);
  }
  return p;
}

// The SIG of a PEM, or null when it is not a P-521 public key.
export async function sigOfPem(pem) {
  if (typeof pem !== 'string') return null;
  try {
    return await sigOfKey(await importPeerKey(pem));
  } catch {
    return null;
  }
}

// A fresh identity: { privateKey, publicKey, publicKeyPem, sig }.
export async function createIdentity() {
  const { privateKey, publicKey } = await wcb.generateKeyPair();
  const publicKeyPem = await wcb.exportPublicKeyPem(publicKey);
  return { privateKey, publicKey, publicKeyPem, sig: await sigOfKey(publicKey) };
}

// hex(IV || AES-256-CBC(text)) for the holder of peerPem: webcryptobox's encryptTo.
export async function encryptText(identity, peerPem, text) {
  const publicKey = await importPeerKey(peerPem);
  const box = await wcb.encryptTo({ message: wcb.decodeText(text), privateKey: identity.privateKey, publicKey });
  return wcb.encodeHex(box);
}

// The inverse of encryptText; throws on a box that does not open.
export async function decryptText(identity, peerPem, boxHex) {
  if (typeof boxHex !== 'string' || !/^(?:[0-9a-fA-F]{2})+$/.test(boxHex)) throw new Error('box is not hex');
  const publicKey = await importPeerKey(peerPem);
  const message = await wcb.decryptFrom({ box: wcb.decodeHex(boxHex), privateKey: identity.privateKey, publicKey });
  return wcb.encodeText(message);
}

// The seed client's answer to a register2 challenge: its clearText, and that
// text boxed to the relay's key as the proof of holding our private key.
export async function makeRegister3(identity, register2, now = Date.now()) {
  const t1 = register2.t1;
  const clearText = JSON.stringify({ t1, t2: now, dt: now - t1 });
  return {
    handler: 'register3',
    clearText,
    cypherText: await encryptText(identity, register2.publicKeyPem, clearText),
    publicKeySig: identity.sig,
    publicKey: identity.publicKeyPem,
  };
}
