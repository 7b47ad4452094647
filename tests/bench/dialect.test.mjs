// reflector-bench --dialect 2025: route and register against the relay's
// 2025 Simpatico dialect, checked against the relay's own counters.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { benchOk, bench, startRelay, tmpdir, SHORT } from './lib/bench.mjs';
import { freePort } from '../node/relay.mjs';

let relay;
let dir;
let mport;
before(async () => {
  mport = await freePort();
  relay = await startRelay(['--metrics-listen', `127.0.0.1:${mport}`]);
  dir = tmpdir('dialect');
});
after(async () => {
  await relay?.stop();
});

async function counter(name) {
  const text = await (await fetch(`http://127.0.0.1:${mport}/metrics`)).text();
  return Number((text.match(new RegExp(`^${name} (\\d+)`, 'm')) || [])[1]);
}

test('route --dialect 2025: every envelope delivered and acknowledged, counted by the relay as 2025 traffic', async () => {
  const before = await counter('reflector_d25_delivered_total');
  const run = await benchOk(['route', '--url', relay.url, '--dialect', '2025', '--clients', '20', '--window', '4',
    '--strict', ...SHORT], dir);
  const [r] = run.results;
  assert.deepEqual(r.errors, {}, run.stdout);
  assert.equal(r.measured, true);
  assert.equal(r.setup_failed, 0);
  assert.ok(r.msgs_per_s > 0);
  const delivered = (await counter('reflector_d25_delivered_total')) - before;
  assert.ok(delivered >= r.histogram.count, `${delivered} delivered by the relay, ${r.histogram.count} measured`);
  assert.equal(await counter('reflector_d25_replayed_nonce_total'), 0);
});

test('register --dialect 2025: registrations counted as REGISTER_SUCCESS', async () => {
  const before = await counter('reflector_d25_registered_total');
  const run = await benchOk(['register', '--url', relay.url, '--dialect', '2025', '--reg-inflight', '4', '--strict',
    ...SHORT], dir);
  const [r] = run.results;
  assert.deepEqual(r.errors, {}, run.stdout);
  assert.ok(r.registrations_per_s > 0);
  assert.ok((await counter('reflector_d25_registered_total')) - before >= r.histogram.count);
});

test('--dialect: only 1 or 2025', async () => {
  const r = await bench(['route', '--url', relay.url, '--dialect', '2024']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /dialect/);
});
