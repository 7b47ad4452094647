// Where the load goes and where it comes from: a host name, IPv6, a path,
// each address of a target tried in turn, source addresses, and the
// limits of the load machine said in words.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { bench, benchOk, keysFor, startRelay, startRelay6, tmpdir, SHORT } from './lib/bench.mjs';

const KEYS = ['--keys', keysFor('target')];
let relay;
let dir;
before(async () => {
  relay = await startRelay();
  dir = tmpdir('target');
});
after(async () => {
  await relay?.stop();
});

function clean(run) {
  const [r] = run.results;
  assert.equal(r.measured, true, run.stdout);
  assert.ok(r.msgs_per_s > 0, run.stdout);
  assert.deepEqual(r.errors, {}, run.stdout);
  return r;
}

test('host name: ws://localhost:PORT/ with a path and a query resolves and runs', async () => {
  const run = await benchOk(['route', '--url', `ws://localhost:${relay.port}/chat?room=1`, '--clients', '20',
    ...SHORT, ...KEYS], dir);
  const r = clean(run);
  assert.match(r.settings.url, /^ws:\/\/localhost:\d+\/chat\?room=1$/);
  assert.equal(r.settings.address, `127.0.0.1:${relay.port}`);
});

test('IPv6: ws://[::1]:PORT/ against a relay listening on [::1] only', async () => {
  const relay6 = await startRelay6();
  try {
    const run = await benchOk(['route', '--url', `ws://[::1]:${relay6.port}/`, '--clients', '20', '--rate', '2000',
      ...SHORT, ...KEYS], dir);
    const r = clean(run);
    assert.equal(r.settings.address, `[::1]:${relay6.port}`);
    // Open loop: what was asked arrives.
    assert.ok(Math.abs(r.msgs_per_s - 2000) < 200, `${r.msgs_per_s} envelopes/s`);
  } finally {
    await relay6.stop();
  }
});

test('every address is tried in turn: [::1] refuses, 127.0.0.1 answers and carries the run', async () => {
  const run = await benchOk(['route', '--url', `ws://localhost:${relay.port}/`, '--connect-to', '[::1],127.0.0.1',
    '--clients', '20', ...SHORT, ...KEYS], dir);
  clean(run);
  assert.match(run.stderr, new RegExp(`at \\[::1\\]:${relay.port}: Connection refused; trying the next address`));
  assert.equal(run.results[0].settings.address, `127.0.0.1:${relay.port}`);
});

test('no address answers: exit 1 naming each', async () => {
  const r = await bench(['route', '--url', `ws://localhost:${relay.port}/`, '--connect-to', '[::1]', '--clients', '20',
    ...SHORT, ...KEYS]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /at \[::1\]:\d+: Connection refused/);
});

test('bad URLs are refused before anything runs (exit 2, saying why)', async () => {
  for (const [url, why] of [['http://127.0.0.1:1/', /want ws:\/\/ or wss:\/\//], ['ws://[::1/', /closing \]/],
    ['ws://127.0.0.1:0/', /port/], ['ws://[nope]:80/', /not an IPv6 address/]]) {
    const r = await bench(['route', '--url', url]);
    assert.equal(r.code, 2, `${url}: ${r.stderr}`);
    assert.match(r.stderr, why, url);
  }
});

// The relay's per-address connection limit shows where connections come
// from: 20 clients from one address are over a limit of 12; spread over
// two source addresses (10 each) they are not.
test('--sources spreads connections over local addresses (a list, and a CIDR block)', async () => {
  const limited = await startRelay(['--max-conns-per-ip', '12']);
  try {
    const one = await bench(['route', '--url', limited.url, '--clients', '20', '--strict', ...SHORT, ...KEYS]);
    assert.equal(one.code, 1, one.stdout);
    assert.match(one.stdout, /http_refused=8\b/);
    for (const spec of ['127.0.0.2,127.0.0.3', '127.0.0.2/31']) {
      const run = await benchOk(['route', '--url', limited.url, '--clients', '20', '--sources', spec, ...SHORT, ...KEYS],
        dir);
      clean(run);
    }
  } finally {
    await limited.stop();
  }
});

test('--sources refuses what this machine cannot bind or the target cannot use (exit 2)', async () => {
  let r = await bench(['route', '--url', relay.url, '--sources', '192.0.2.1', ...SHORT, ...KEYS]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /cannot bind 192\.0\.2\.1/);
  r = await bench(['route', '--url', relay.url, '--sources', '::1', ...SHORT, ...KEYS]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /IPv6, but the target's address is IPv4/);
});

test('open files: a soft limit is raised to the hard one; a hard limit too low is named (exit 2)', async () => {
  const ok = await bench(['route', '--url', relay.url, '--clients', '100', ...SHORT, ...KEYS],
    { shell: 'ulimit -Sn 64 && exec "$@"' });
  assert.equal(ok.code, 0, ok.stderr);
  const low = await bench(['route', '--url', relay.url, '--clients', '100', ...SHORT, ...KEYS],
    { shell: 'ulimit -n 64 && exec "$@"' });
  assert.equal(low.code, 2, low.stderr);
  assert.match(low.stderr, /100 connections need 164 open files; the hard limit is 64: raise it \(ulimit -Hn/);
});

test('local ports: more connections than one source address has ports is named before connecting (exit 2)',
  async () => {
    const r = await bench(['idle', '--url', relay.url, '--clients', '40000', '--sources', '127.0.0.1', ...KEYS]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /40000 connections to 127\.0\.0\.1:\d+ need 2 source addresses of \d+ local ports each \(net\.ipv4\.ip_local_port_range \d+-\d+\) and there is 1: add local addresses with --sources/);
    // Two addresses have the ports; the open-file limit, held low here,
    // stops the run before it makes 40,000 keys.
    const two = await bench(['idle', '--url', relay.url, '--clients', '40000', '--sources', '127.0.0.1,127.0.0.2', ...KEYS],
      { shell: 'ulimit -n 1000 && exec "$@"' });
    assert.equal(two.code, 2, two.stderr);
    assert.match(two.stderr, /open files/);
    assert.doesNotMatch(two.stderr, /local ports/);
  });
