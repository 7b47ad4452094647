// Registration proof (protocol.md, Registration 3) on node:crypto: the
// same checks in the same order as the relay (proto/README.md), the ECDH
// on WebCrypto, which runs off the event loop on libuv's thread pool, as
// the Simpatico reflector does its crypto through webcryptobox.
import crypto from 'node:crypto';
import { sigOfDer } from './server_key.mjs';
import { rawValueSpan } from './json_scan.mjs';

const { subtle } = crypto.webcrypto;
const HEADER = '-----BEGIN PUBLIC KEY-----';
const FOOTER = '-----END PUBLIC KEY-----';
const B64 = /^[A-Za-z0-9+/]*={0,2}$/;
const HEX = /^[0-9a-fA-F]*$/;
const INTEGER = /^-?(0|[1-9][0-9]*)$/;

class Refused extends Error {
  constructor(code) { super(code); this.code = code; }
}

// The DER inside a strict "PUBLIC KEY" PEM: the header first, nothing but
// whitespace after the footer, clean base64 (the relay hands the PEM on).
function pemToDer(pem) {
  if (!pem.startsWith(HEADER)) throw new Refused('BAD_PUBLIC_KEY');
  const end = pem.indexOf(FOOTER);
  if (end < 0 || pem.slice(end + FOOTER.length).trim() !== '') throw new Refused('BAD_PUBLIC_KEY');
  const body = pem.slice(HEADER.length, end).replace(/[\r\n\t ]/g, '');
  if (!B64.test(body) || body.length % 4 !== 0 || body.length === 0) throw new Refused('BAD_PUBLIC_KEY');
  return Buffer.from(body, 'base64');
}

function parseKey(der) {
  let key;
  try {
    key = crypto.createPublicKey({ key: der, format: 'der', type: 'spki' });
  } catch {
    throw new Refused('BAD_PUBLIC_KEY');
  }
  // Trailing bytes after the SubjectPublicKeyInfo would be ignored above.
  if (!key.export({ type: 'spki', format: 'der' }).equals(der)) throw new Refused('BAD_PUBLIC_KEY');
  if (key.asymmetricKeyType !== 'ec') throw new Refused('BAD_PUBLIC_KEY');
  if (key.asymmetricKeyDetails?.namedCurve !== 'secp521r1') throw new Refused('WRONG_CURVE');
  return key;
}

function checkClearText(clearText, t1) {
  let obj;
  try {
    obj = JSON.parse(clearText);
  } catch {
    throw new Refused('BAD_CLEARTEXT');
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj) || !('t1' in obj)) throw new Refused('BAD_CLEARTEXT');
  const span = rawValueSpan(clearText, 't1');
  if (!span || !INTEGER.test(clearText.slice(span[0], span[1]))) throw new Refused('BAD_CLEARTEXT');
  if (obj.t1 !== t1) throw new Refused('T1_MISMATCH');
}

const str = (v, max) => typeof v === 'string' && Buffer.byteLength(v) <= max;

// Resolves with { sig } or { code }.
export async function verifyProof(serverEcdhKey, t1, m) {
  try {
    if (!str(m.publicKey, 1024)) throw new Refused('BAD_PUBLIC_KEY');
    if (!str(m.publicKeySig, 64)) throw new Refused('SIG_MISMATCH');
    if (!str(m.clearText, 512)) throw new Refused('BAD_CLEARTEXT');
    if (!str(m.cypherText, 2048)) throw new Refused('BAD_CYPHERTEXT');
    const der = pemToDer(m.publicKey);
    parseKey(der);
    const sig = sigOfDer(der);
    if (m.publicKeySig !== sig) throw new Refused('SIG_MISMATCH');
    checkClearText(m.clearText, t1);
    const hex = m.cypherText;
    if (!HEX.test(hex) || hex.length % 2) throw new Refused('BAD_CYPHERTEXT');
    const box = Buffer.from(hex, 'hex');
    if (box.length < 32 || box.length % 16) throw new Refused('BAD_CYPHERTEXT');
    let plain;
    try {
      const client = await subtle.importKey('spki', der, { name: 'ECDH', namedCurve: 'P-521' }, false, []);
      const bits = await subtle.deriveBits({ name: 'ECDH', public: client }, serverEcdhKey, 528);
      const key = Buffer.from(bits, 0, 32);
      const d = crypto.createDecipheriv('aes-256-cbc', key, box.subarray(0, 16));
      plain = Buffer.concat([d.update(box.subarray(16)), d.final()]);
    } catch {
      throw new Refused('PROOF_FAILED');
    }
    if (!plain.equals(Buffer.from(m.clearText, 'utf8'))) throw new Refused('PROOF_FAILED');
    return { sig };
  } catch (e) {
    if (e instanceof Refused) return { code: e.code };
    throw e;
  }
}
