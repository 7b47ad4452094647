import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay } from '../backoff.js';

const noJitter = { baseMs: 100, factor: 2, maxMs: 5000, jitter: 0 };

test('backoff: doubles from the base, then stays at the cap', () => {
  const delays = Array.from({ length: 10 }, (_, i) => backoffDelay(i, noJitter));
  assert.deepEqual(delays, [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000, 5000]);
});

test('backoff: jitter only shortens, by at most its fraction', () => {
  const opts = { ...noJitter, jitter: 0.2 };
  assert.equal(backoffDelay(3, opts, () => 0), 800);
  assert.equal(backoffDelay(3, opts, () => 0.999999), 640);
  for (let i = 0; i < 50; i++) {
    const d = backoffDelay(2, opts);
    assert.ok(d >= 320 && d <= 400, `${d}`);
  }
});

test('backoff: a huge attempt number is the cap, not Infinity or NaN', () => {
  assert.equal(backoffDelay(1e9, noJitter), 5000);
});
