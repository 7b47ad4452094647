// wss:// through a proxy that terminates TLS: Debian's nginx with
// deploy/nginx/reflector.conf in front of the relay (tests/deploy's
// helpers, a certificate made by openssl for localhost and 127.0.0.1),
// the certificate checked by name and by address, and refused when it
// should be.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startNginx } from '../deploy/lib/proxies.mjs';
import { bench, benchOk, keysFor, startRelay, tmpdir, SHORT } from './lib/bench.mjs';

const KEYS = ['--keys', keysFor('tls')];
let relay;
let nginx;
let dir;
before(async () => {
  relay = await startRelay();
  nginx = await startNginx({ relayPort: relay.port });
  dir = tmpdir('tls');
});
after(async () => {
  await nginx?.stop();
  await relay?.stop();
});

function clean(run) {
  const [r] = run.results;
  assert.equal(r.measured, true, run.stdout);
  assert.ok(r.msgs_per_s > 0, run.stdout);
  assert.deepEqual(r.errors, {}, run.stdout);
  assert.equal(r.settings.tls, true);
  return r;
}

test('wss://localhost through nginx, the test CA trusted (--ca): open loop at the asked rate', async () => {
  const run = await benchOk(['route', '--url', `wss://localhost:${nginx.httpsPort}/`, '--ca', nginx.cert.cert,
    '--clients', '20', '--rate', '2000', ...SHORT, ...KEYS], dir);
  const r = clean(run);
  // The open loop sends on schedule whatever comes back; what a busy
  // machine delivers through nginx is the bench's figure, not a test's.
  const asked = 2000 * (r.duration_s + run.results[0].settings.warmup_s);
  assert.ok(Math.abs(r.envelopes_sent - asked) < asked * 0.1, `${r.envelopes_sent} envelopes sent, ${asked} asked`);
  assert.ok(r.histogram.count > 0 && r.histogram.count <= r.envelopes_sent, `${r.histogram.count} latencies`);
});

test('wss://127.0.0.1: the certificate is checked against its IP address names', async () => {
  clean(await benchOk(['route', '--url', `wss://127.0.0.1:${nginx.httpsPort}/`, '--ca', nginx.cert.cert,
    '--clients', '20', '--window', '4', ...SHORT, ...KEYS], dir));
  // 127.0.0.2 reaches the same nginx (--connect-to) but is not in the certificate.
  const r = await bench(['route', '--url', `wss://127.0.0.2:${nginx.httpsPort}/`, '--connect-to', '127.0.0.1',
    '--ca', nginx.cert.cert, ...SHORT, ...KEYS]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /the certificate does not name 127\.0\.0\.2/);
});

test('the system trust store does not know the test certificate: refused, saying what to do', async () => {
  const r = await bench(['route', '--url', `wss://localhost:${nginx.httpsPort}/`, ...SHORT, ...KEYS]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /certificate verify failed: .*not correctly signed by the trusted CA \(--ca FILE for a private CA, --insecure to skip the check\)/);
});

test('a name the certificate does not carry is refused (SNI and the name check use the URL\'s host)', async () => {
  const r = await bench(['route', '--url', `wss://chat.example.org:${nginx.httpsPort}/`, '--connect-to', '127.0.0.1',
    '--ca', nginx.cert.cert, ...SHORT, ...KEYS]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /Common Name \(CN\) does not match/);
});

test('--insecure: the self-signed certificate is not checked; --tls-resume reuses sessions', async () => {
  const full = clean(await benchOk(['route', '--url', `wss://127.0.0.1:${nginx.httpsPort}/`, '--insecure',
    '--clients', '20', ...SHORT, ...KEYS], dir));
  assert.equal(full.tls_handshakes, 20);
  assert.equal(full.tls_resumed, 0);
  // nginx resumes sessions (tickets, and ssl_session_cache in the deploy
  // file): two full handshakes, then each later connection resumes the
  // first session (two at a time: --setup-inflight 2).
  const resumed = clean(await benchOk(['route', '--url', `wss://localhost:${nginx.httpsPort}/`, '--ca',
    nginx.cert.cert, '--tls-resume', '--setup-inflight', '2', '--clients', '20', ...SHORT, ...KEYS], dir));
  assert.equal(resumed.tls_handshakes, 20);
  assert.ok(resumed.tls_resumed >= 16, `${resumed.tls_resumed} of 20 resumed`);
});

test('TLS flags on a ws:// URL, or --ca with --insecure, are refused (exit 2)', async () => {
  let r = await bench(['route', '--url', relay.url, '--insecure']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--insecure : only for a wss:\/\/ URL/);
  r = await bench(['route', '--url', `wss://localhost:${nginx.httpsPort}/`, '--insecure', '--ca', nginx.cert.cert]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /contradict/);
});
