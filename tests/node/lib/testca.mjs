// A certificate authority made for one test run with openssl, and server
// certificates it signs for localhost and 127.0.0.1 (EC P-256 or RSA 2048),
// like tests/lib/testca.py. Clients trust `ca` (its PEM) rather than skip
// verification.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';

const openssl = (args, cwd) => execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60000 });

export class TestCA {
  constructor() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reflector-ca-'));
    this.caFile = path.join(this.dir, 'ca.pem');
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key',
      '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Reflector test CA'], this.dir);
    this.ca = fs.readFileSync(this.caFile);
    this.n = 0;
  }

  // { cert, key } paths of a new certificate for localhost.
  issue(name = 'server', { kind = 'ec', days = 30 } = {}) {
    this.n += 1;
    const newkey = kind === 'rsa' ? ['rsa:2048'] : ['ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
    openssl(['req', '-newkey', ...newkey, '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', '/CN=localhost'], this.dir);
    fs.writeFileSync(path.join(this.dir, `${name}.ext`), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n');
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', String(1000 + this.n),
      '-days', String(days), '-extfile', `${name}.ext`, '-out', `${name}.pem`], this.dir);
    return { cert: path.join(this.dir, `${name}.pem`), key: path.join(this.dir, `${name}.key`) };
  }

  // SHA-256 of a certificate file's DER, as tls.TLSSocket's fingerprint256 writes it.
  static fingerprint(certFile) {
    return new crypto.X509Certificate(fs.readFileSync(certFile)).fingerprint256;
  }

  cleanup() { fs.rmSync(this.dir, { recursive: true, force: true }); }
}
