// A storm of full TLS handshakes (no resumption) against a relay: N
// connections, C at a time, each closed once its handshake is done.
// Prints one JSON line: { done, errors, seconds }.
// usage: node tls_storm.mjs PORT N C CA_FILE
import tls from 'node:tls';
import fs from 'node:fs';

const [port, n, c] = process.argv.slice(2, 5).map(Number);
const ca = fs.readFileSync(process.argv[5]);
let started = 0;
let done = 0;
let errors = 0;
const t0 = process.hrtime.bigint();

function one() {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca, maxVersion: 'TLSv1.2', timeout: 10000 });
    s.once('secureConnect', () => { done++; s.destroy(); resolve(); });
    s.once('error', () => { errors++; s.destroy(); resolve(); });
    s.once('timeout', () => { errors++; s.destroy(); resolve(); });
  });
}

async function worker() {
  while (started < n) {
    started++;
    await one();
  }
}

await Promise.all(Array.from({ length: c }, worker));
console.log(JSON.stringify({ done, errors, seconds: Number(process.hrtime.bigint() - t0) / 1e9 }));
