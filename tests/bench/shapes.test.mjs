// Load over time: --stages of clients and of rates, --connect-rate, and
// soak (churn, a bounded series), read back from the time series.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { benchOk, keysFor, startRelay, tmpdir } from './lib/bench.mjs';

const KEYS = ['--keys', keysFor('shapes')];
let relay;
let dir;
before(async () => {
  relay = await startRelay();
  dir = tmpdir('shapes');
});
after(async () => {
  await relay?.stop();
});

const max = (rows, k) => Math.max(...rows.map((r) => r[k]));

test('--stages of clients: 0 -> 20 -> 60, held, -> 0, the series follows', async () => {
  const run = await benchOk(['route', '--url', relay.url, '--stages', '1s:20,1s:60,1s:60,1s:0', ...KEYS], dir);
  const [r] = run.results;
  assert.deepEqual(r.errors, {}, run.stdout);
  assert.equal(r.measured, true);
  assert.equal(r.settings.stages, '1s:20,1s:60,1s:60,1s:0');
  const rows = run.rows;
  // One row per second from the start, each with the clients registered at its end.
  assert.ok(rows.length >= 4 && rows.length <= 7, JSON.stringify(rows));
  assert.ok(rows[0].registered <= 26, `first second: ${rows[0].registered}`);
  assert.ok(max(rows, 'registered') >= 58 && max(rows, 'registered') <= 60, JSON.stringify(rows));
  const peak = rows.findIndex((x) => x.registered === max(rows, 'registered'));
  assert.ok(rows.slice(0, peak).every((x, i) => i === 0 || x.registered >= rows[i - 1].registered), 'rising');
  assert.equal(rows.at(-1).registered, 0);
  assert.ok(rows[peak].msgs_per_s > 0);
});

test('--stages of rates: 0 -> 1000/s -> 3000/s -> 0, envelopes as the integral says', async () => {
  const run = await benchOk(['route', '--url', relay.url, '--clients', '20', '--stages', '1s:1000/s,2s:3000/s,1s:0/s',
    ...KEYS], dir);
  const [r] = run.results;
  assert.deepEqual(r.errors, {}, run.stdout);
  // 500 + 4000 + 1500 envelopes were due.
  assert.ok(Math.abs(r.histogram.count - 6000) <= 300, `${r.histogram.count} delivered`);
  const sent = run.rows.reduce((s, x) => s + x.sent_per_s, 0);
  assert.ok(Math.abs(sent - 6000) <= 300, `${sent} sent`);
  // The third second of the series (about 2 s after the go) is on the ramp
  // from 1000 to 3000 per second, near its middle.
  assert.ok(run.rows[2].msgs_per_s > 1700 && run.rows[2].msgs_per_s < 3300, JSON.stringify(run.rows));
});

test('--connect-rate: 60 clients at 30 new connections per second take two seconds', async () => {
  const run = await benchOk(['route', '--url', relay.url, '--clients', '60', '--connect-rate', '30', '--duration', '0.5',
    '--warmup', '0', ...KEYS], dir);
  const [r] = run.results;
  assert.deepEqual(r.errors, {});
  assert.equal(r.setup_failed, 0);
  assert.ok(run.rows[0].registered <= 36, JSON.stringify(run.rows));
  assert.ok(run.rows.every((x) => x.regs_per_s <= 36), JSON.stringify(run.rows));
  assert.ok(run.rows.length >= 3, JSON.stringify(run.rows));
});

test('soak: pairs churn and register again; the JSON series stays within --series-cap rows', async () => {
  const run = await benchOk(['soak', '--url', relay.url, '--clients', '40', '--duration', '3', '--warmup', '0.5',
    '--churn', '4', '--series-cap', '2', ...KEYS], dir);
  const [r] = run.results;
  assert.deepEqual(r.errors, {}, run.stdout);
  assert.equal(r.rate, 40); // one envelope per client per second by default
  assert.ok(r.churns >= 8, `${r.churns} pairs churned`);
  assert.ok(run.rows.slice(1, -1).every((x) => x.regs_per_s > 0), JSON.stringify(run.rows));
  assert.ok(run.rows.every((x) => x.bench_rss_kib > 0));
  // The CSV has every second; the JSON series merged them to stay in 2 rows.
  const s = r.series;
  assert.ok(s.rows.length <= 2, `${s.rows.length} rows`);
  assert.ok(s.interval_s >= 2);
  const csvMsgs = run.rows.reduce((a, x) => a + Math.round(x.msgs_per_s * (x.t_s - Math.ceil(x.t_s - 1))), 0);
  const jsonMsgs = s.rows.reduce((a, x) => a + x.msgs, 0);
  assert.ok(Math.abs(csvMsgs - jsonMsgs) <= 2, `${csvMsgs} in the CSV, ${jsonMsgs} in the JSON series`);
  assert.match(run.stdout, /soak: 40 envelopes\/s asked, \d+ pairs closed and connected again; the bench's RSS/);
});
