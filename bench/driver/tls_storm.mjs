// A storm of full TLS handshakes (no resumption) against a relay: N
// connections, C at a time, each closed once its handshake is done.
// With `resume` as a fifth argument every connection offers the ticket of
// the first one (an abbreviated handshake). Prints one JSON line:
// { done, errors, resumed, seconds }.
// usage: node tls_storm.mjs PORT N C CA_FILE [resume]
import tls from 'node:tls';
import fs from 'node:fs';

const [port, n, c] = process.argv.slice(2, 5).map(Number);
const ca = fs.readFileSync(process.argv[5]);
let started = 0;
let done = 0;
let errors = 0;
let resumed = 0;
const resume = process.argv[6] === 'resume';
let session = null;
const t0 = process.hrtime.bigint();

function one() {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca, maxVersion: 'TLSv1.2', timeout: 10000,
      session: resume && session ? session : undefined });
    if (resume) s.once('session', (t) => { session = session || t; });
    s.once('secureConnect', () => {
      done++;
      if (s.isSessionReused()) resumed++;
      // A ticket arrives with the server's Finished: wait for it once.
      if (resume && !session) s.once('session', () => { s.destroy(); resolve(); });
      else { s.destroy(); resolve(); }
    });
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
console.log(JSON.stringify({ done, errors, resumed, seconds: Number(process.hrtime.bigint() - t0) / 1e9 }));
