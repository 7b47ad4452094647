// The relay's own TLS (--tls-cert, --tls-key), no proxy: the bench over
// wss:// straight to the relay, and routing while 500 full TLS handshakes
// arrive. Handshakes run on the relay's handshake threads, not on the
// shards (tests/integration/test_tls.py reads their CPU per thread), so
// routing goes on through the storm without an error and every
// handshake is done. Its p99 beside the quiet p99 is printed, not asserted:
// on two cores the bench and the storm's own TLS client share the CPU with
// the relay, and a timing is the bench's to show, not a test's.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestCA } from '../node/lib/testca.mjs';
import { freePort } from '../node/relay.mjs';
import { benchOk, keysFor, startRelay, tmpdir, SHORT } from './lib/bench.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const KEYS = ['--keys', keysFor('native-tls')];
let ca;
let tlsFiles;
let relay;
let metricsPort;
let dir;
before(async () => {
  ca = new TestCA();
  tlsFiles = ca.issue('server');
  metricsPort = await freePort();
  relay = await startRelay(['--tls-cert', tlsFiles.cert, '--tls-key', tlsFiles.key,
    '--metrics-listen', `127.0.0.1:${metricsPort}`]);
  dir = tmpdir('native-tls');
});
after(async () => {
  await relay?.stop();
  ca?.cleanup();
});

async function counter(name) {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const m = new RegExp(`^reflector_${name}_total (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

const url = () => `wss://localhost:${relay.port}/`;

function storm(n, c) {
  return new Promise((resolve, reject) => {
    // At nice 10: the load generator is not what is measured.
    const p = spawn('nice', ['-n', '10', process.execPath, path.join(HERE, '..', '..', 'bench', 'driver', 'tls_storm.mjs'),
      String(relay.port), String(n), String(c), ca.caFile], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    const t = setTimeout(() => p.kill('SIGKILL'), 120000);
    p.once('exit', () => {
      clearTimeout(t);
      try { resolve(JSON.parse(out)); } catch (e) { reject(new Error(`storm: ${out}`)); }
    });
  });
}

test('wss:// straight to the relay: route and register, certificate checked against the test CA', async () => {
  const before = await counter('tls_handshakes');
  const run = await benchOk(['route', '--url', url(), '--ca', ca.caFile, '--clients', '20',
    '--rate', '1000', ...SHORT, ...KEYS], dir);
  const reg = await benchOk(['register', '--url', url(), '--ca', ca.caFile, '--reg-inflight', '8',
    '--duration', '3', '--warmup', '0.5', ...KEYS], dir);
  for (const r of [...run.results, ...reg.results]) {
    assert.equal(r.measured, true, run.stdout);
    assert.deepEqual(r.errors, {}, run.stdout);
    assert.equal(r.settings.tls, true);
  }
  assert.ok(await counter('tls_handshakes') - before >= 20);
});

test('routing goes on through a storm of 500 TLS handshakes without an error; p99 reported',
  { timeout: 300000 }, async () => {
    const args = ['route', '--url', url(), '--ca', ca.caFile, '--clients', '50', '--rate', '1000', '--warmup', '1',
      ...KEYS];
    const quiet = (await benchOk([...args, '--duration', '4'], dir)).results[0];
    const before = await counter('tls_handshakes');
    const [loud, hs] = await Promise.all([
      benchOk([...args, '--duration', '6'], dir),
      new Promise((r) => setTimeout(r, 1500)).then(() => storm(500, 8)),
    ]);
    const storming = loud.results[0];
    assert.equal(hs.done, 500, JSON.stringify(hs));
    assert.ok(await counter('tls_handshakes') - before >= 500);
    assert.deepEqual(storming.errors, {});
    assert.equal(storming.measured, true, loud.stdout);
    console.log(`# quiet p99 ${quiet.p99_us} us, storm p99 ${storming.p99_us} us `
      + `(${(500 / hs.seconds).toFixed(0)} handshakes/s): x${(storming.p99_us / quiet.p99_us).toFixed(2)}`);
  });
