// Losing the relay and coming back: backoff, re-registration, and the cases
// where the client must stop instead of retrying.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '../client.js';
import { MockRelay } from '../testing/mock-relay.js';
import { record, states, waitForEvent } from '../testing/events.js';

const fast = { baseMs: 20, factor: 2, maxMs: 200, jitter: 0 };

test('reconnect: relay down for a while -> exponential delays, then VERIFIED again with the same key', async (t) => {
  const relay = await MockRelay.start();
  const clients = [];
  t.after(() => { clients.forEach((c) => c.close()); relay.shutdown(); });
  const c = new Client({ url: 'ws://mock/', WebSocket: relay.WebSocket, reconnect: fast });
  clients.push(c);
  await (await c.start()).ready();
  const log = record(c);
  const sig = c.sig;
  relay.server.refuse = true;
  relay.server.dropAll();
  await waitForEvent(c, 'reconnect', (d) => d.attempt === 4, 3000);
  relay.server.refuse = false;
  await waitForEvent(c, 'state', (d) => d.kind === 'registration' && d.state === 'VERIFIED', 3000);
  const delays = log.filter((e) => e.type === 'reconnect').map((e) => e.delayMs);
  assert.deepEqual(delays.slice(0, 4), [20, 40, 80, 160]);
  assert.equal(c.sig, sig);
  assert.ok(relay.registry.has(sig), 're-registered under the same SIG');
  assert.deepEqual(states(log, 'registration').slice(0, 1), ['UNREGISTERED']);
  assert.equal(states(log, 'registration').at(-1), 'VERIFIED');

  // After VERIFIED the backoff starts over.
  relay.server.dropAll();
  const next = await waitForEvent(c, 'reconnect', () => true, 2000);
  assert.deepEqual([next.attempt, next.delayMs], [1, 20]);
  await waitForEvent(c, 'state', (d) => d.kind === 'registration' && d.state === 'VERIFIED', 3000);
});

test('reconnect: an envelope sent while reconnecting waits for VERIFIED and goes through', async (t) => {
  const relay = await MockRelay.start();
  const clients = [];
  t.after(() => { clients.forEach((c) => c.close()); relay.shutdown(); });
  const A = new Client({ url: 'ws://mock/', WebSocket: relay.WebSocket, reconnect: fast });
  clients.push(A);
  const B = new Client({ url: 'ws://mock/', WebSocket: relay.WebSocket, reconnect: fast });
  clients.push(B);
  await Promise.all([(await A.start()).ready(), (await B.start()).ready()]);
  await A.lookup(B.sig);
  relay.registry.get(A.sig).peer.drop(); // only A's path breaks
  await waitForEvent(A, 'state', (d) => d.kind === 'socket' && d.state === 'CLOSED', 2000);
  const got = waitForEvent(B, 'message', () => true, 4000);
  await A.send(B.sig, { text: 'after the blip' }, { timeoutMs: 4000 });
  assert.equal((await got).body.text, 'after the blip');
});

test('reconnect: bounded: after maxAttempts the client stops and says why', async (t) => {
  const relay = await MockRelay.start();
  const clients = [];
  t.after(() => { clients.forEach((c) => c.close()); relay.shutdown(); });
  relay.server.refuse = true;
  const c = new Client({ url: 'ws://mock/', WebSocket: relay.WebSocket, reconnect: { ...fast, maxMs: 20, maxAttempts: 3 } });
  clients.push(c);
  await c.start();
  const stopped = await waitForEvent(c, 'stopped', () => true, 3000);
  assert.match(stopped.reason, /relay unreachable \(close 1006\) after 3 reconnect attempts/);
  assert.equal(relay.server.attempts, 4, 'the first try and three retries');
  await assert.rejects(c.ready(50), { code: 'STOPPED' });
});

test('reconnect: reconnectNow() skips the wait; after a stop for unreachability it starts again', async (t) => {
  const relay = await MockRelay.start();
  const clients = [];
  t.after(() => { clients.forEach((c) => c.close()); relay.shutdown(); });
  const slow = { baseMs: 60000, factor: 2, maxMs: 60000, jitter: 0, maxAttempts: 1 };
  const c = new Client({ url: 'ws://mock/', WebSocket: relay.WebSocket, reconnect: slow });
  clients.push(c);
  await (await c.start()).ready();
  relay.server.dropAll();
  const scheduled = await waitForEvent(c, 'reconnect', () => true, 2000);
  assert.equal(scheduled.delayMs, 60000);
  const started = Date.now();
  c.reconnectNow();
  await waitForEvent(c, 'state', (d) => d.kind === 'registration' && d.state === 'VERIFIED', 2000);
  assert.ok(Date.now() - started < 2000, 'did not wait the minute');

  // Unreachable until the client gives up (one retry allowed), then back.
  relay.server.refuse = true;
  relay.server.dropAll();
  await waitForEvent(c, 'reconnect', () => true, 2000);
  c.reconnectNow(); // the one retry, refused
  const stopped = await waitForEvent(c, 'stopped', () => true, 2000);
  assert.match(stopped.reason, /relay unreachable/);
  relay.server.refuse = false;
  c.reconnectNow();
  await waitForEvent(c, 'state', (d) => d.kind === 'registration' && d.state === 'VERIFIED', 2000);
  assert.equal(c.stopped, false);
});

test('reconnect: reconnectNow() does not undo close() or REPLACED', async (t) => {
  const relay = await MockRelay.start();
  const clients = [];
  t.after(() => { clients.forEach((c) => c.close()); relay.shutdown(); });
  const c = new Client({ url: 'ws://mock/', WebSocket: relay.WebSocket, reconnect: fast });
  clients.push(c);
  await (await c.start()).ready();
  c.close();
  await waitForEvent(c, 'state', (d) => d.kind === 'socket' && d.state === 'CLOSED', 2000);
  const attempts = relay.server.attempts;
  c.reconnectNow();
  assert.equal(relay.server.attempts, attempts);
  assert.equal(c.stopped, true);

  const first = new Client({ url: 'ws://mock/', WebSocket: relay.WebSocket, reconnect: fast });
  clients.push(first);
  await (await first.start()).ready();
  const stoppedEvent = waitForEvent(first, 'stopped', () => true, 3000);
  const second = new Client({ url: 'ws://mock/', WebSocket: relay.WebSocket, identity: first.identity, reconnect: fast });
  clients.push(second);
  await (await second.start()).ready();
  await stoppedEvent;
  first.reconnectNow();
  assert.equal(first.stopped, true, 'taking the key back would start a tug of war');
});

test('reconnect: REPLACED (another tab took our key) -> stopped, no retry', async (t) => {
  const relay = await MockRelay.start();
  const clients = [];
  t.after(() => { clients.forEach((c) => c.close()); relay.shutdown(); });
  const first = new Client({ url: 'ws://mock/', WebSocket: relay.WebSocket, reconnect: fast });
  clients.push(first);
  await (await first.start()).ready();
  const log = record(first);
  const stoppedEvent = waitForEvent(first, 'stopped', () => true, 3000);
  const second = new Client({ url: 'ws://mock/', WebSocket: relay.WebSocket, identity: first.identity, reconnect: fast });
  clients.push(second);
  await (await second.start()).ready();
  const stopped = await stoppedEvent;
  assert.match(stopped.reason, /REPLACED/);
  assert.equal(first.socketState, 'CLOSED');
  assert.equal(log.filter((e) => e.type === 'reconnect').length, 0);
  assert.ok(log.some((e) => e.type === 'error' && e.error === 'REPLACED'));
});

test('lag: a ping on VERIFIED and every interval; no pong for two intervals -> reconnect', async (t) => {
  const relay = await MockRelay.start({ latencyMs: 15 });
  const clients = [];
  t.after(() => { clients.forEach((c) => c.close()); relay.shutdown(); });
  const c = new Client({ url: 'ws://mock/', WebSocket: relay.WebSocket, pingIntervalMs: 60, reconnect: fast });
  clients.push(c);
  await (await c.start()).ready();
  const first = await waitForEvent(c, 'lag', () => true, 1000);
  assert.ok(first.ms >= 25 && first.ms < 1000, `lag ${first.ms} ms over a 2 x 15 ms round trip`);
  await waitForEvent(c, 'lag', () => true, 1000); // the interval's next one
  assert.ok(relay.received.filter((m) => m.handler === 'ping').length >= 2);
  relay.noPong = true;
  const closed = await waitForEvent(c, 'state', (d) => d.kind === 'socket' && d.state === 'CLOSED', 2000);
  assert.equal(closed.reason, 'no pong');
  relay.noPong = false;
  await waitForEvent(c, 'state', (d) => d.kind === 'registration' && d.state === 'VERIFIED', 2000);
});
