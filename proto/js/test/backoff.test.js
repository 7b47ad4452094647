import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay, backoffCeiling, BACKOFF_DEFAULTS } from '../backoff.js';

const noJitter = { baseMs: 100, factor: 2, maxMs: 5000, jitter: 0 };

// A seeded generator (mulberry32), so the statistics below are the same on every run.
function seeded(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('backoff: without jitter, doubles from the base, then stays at the cap', () => {
  const delays = Array.from({ length: 10 }, (_, i) => backoffDelay(i, noJitter));
  assert.deepEqual(delays, [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000, 5000]);
});

test('backoff: full jitter is the default: uniform over (0, min(cap, base * 2^n)]', () => {
  assert.equal(BACKOFF_DEFAULTS.jitter, 1);
  const opts = { baseMs: 100, factor: 2, maxMs: 5000 };
  assert.equal(backoffDelay(3, opts, () => 0), 800, 'random 0: the ceiling');
  assert.equal(backoffDelay(3, opts, () => 0.75), 200);
  assert.equal(backoffDelay(3, opts, () => 0.999999), 0, 'random near 1: at once');
  assert.equal(backoffDelay(9, opts, () => 0.5), 2500, 'half the cap once capped');
  // The default first delay is at most 500 ms (was 400..500 with ±20 %).
  assert.equal(backoffCeiling(0), 500);
});

test('backoff: full jitter spreads the delays over the whole window', () => {
  const random = seeded(12);
  const n = 4000;
  const ceiling = backoffCeiling(4, noJitter); // 1600
  const delays = Array.from({ length: n }, () => backoffDelay(4, { ...noJitter, jitter: 1 }, random));
  assert.ok(delays.every((d) => d >= 0 && d <= ceiling), 'within (0, ceiling]');
  // Every tenth of the window gets about a tenth of the delays: no wave.
  const buckets = new Array(10).fill(0);
  for (const d of delays) buckets[Math.min(9, Math.floor((d / ceiling) * 10))]++;
  for (const b of buckets) assert.ok(b > n / 10 * 0.8 && b < n / 10 * 1.2, `bucket ${b} of ${n}: ${buckets}`);
  const mean = delays.reduce((s, d) => s + d, 0) / n;
  assert.ok(Math.abs(mean - ceiling / 2) < ceiling * 0.03, `mean ${mean}`);
});

test('backoff: a partial jitter only shortens, by at most its fraction', () => {
  const opts = { ...noJitter, jitter: 0.2 };
  assert.equal(backoffDelay(3, opts, () => 0), 800);
  assert.equal(backoffDelay(3, opts, () => 0.999999), 640);
  const random = seeded(7);
  for (let i = 0; i < 50; i++) {
    const d = backoffDelay(2, opts, random);
    assert.ok(d >= 320 && d <= 400, `${d}`);
  }
});

test('backoff: a huge attempt number is the cap, not Infinity or NaN', () => {
  assert.equal(backoffDelay(1e9, noJitter), 5000);
  assert.equal(backoffCeiling(1e9, noJitter), 5000);
});
