// The peer's P-521 key: from --key (PKCS#8 or SEC1 PEM) or fresh, as the
// relay's. The public PEM is written as webcryptobox writes it (no final
// newline), which is what register2 carries and the vectors hold.
import crypto from 'node:crypto';
import fs from 'node:fs';

export function sigOfDer(der) {
  return crypto.createHash('sha256').update(der).digest('base64url');
}

function describe(privateKey) {
  const publicKey = crypto.createPublicKey(privateKey);
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return {
    privateKey,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).trimEnd(),
    sig: sigOfDer(der),
  };
}

// { key } or { error } naming the file and the reason.
export function loadKey(path) {
  let pem;
  try {
    pem = fs.readFileSync(path, 'utf8');
  } catch (e) {
    return { error: `key file ${path}: cannot read: ${e.message}` };
  }
  let privateKey;
  try {
    privateKey = crypto.createPrivateKey({ key: pem, format: 'pem' });
  } catch (e) {
    return { error: `key file ${path}: not a PEM private key (${e.message})` };
  }
  if (privateKey.asymmetricKeyType !== 'ec') {
    return { error: `key file ${path}: ${privateKey.asymmetricKeyType} key, the relay needs an EC P-521 key` };
  }
  const curve = privateKey.asymmetricKeyDetails?.namedCurve;
  if (curve !== 'secp521r1') {
    return { error: `key file ${path}: EC key on ${curve}, the relay needs P-521 (secp521r1)` };
  }
  return { key: describe(privateKey) };
}

export function generateKey() {
  const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'secp521r1' });
  return describe(privateKey);
}

export function writeKey(path, key) {
  const pem = key.privateKey.export({ type: 'pkcs8', format: 'pem' });
  fs.writeFileSync(path, pem, { mode: 0o600, flag: 'wx' });
}

// The private key as WebCrypto wants it for deriveBits.
export function importForEcdh(key) {
  const der = key.privateKey.export({ type: 'pkcs8', format: 'der' });
  return crypto.webcrypto.subtle.importKey('pkcs8', der, { name: 'ECDH', namedCurve: 'P-521' }, false, ['deriveBits']);
}
