// Registration over the mock transport: the states of protocol.md in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '../client.js';
import { createIdentity } from '../identity.js';
import { MockRelay } from '../testing/mock-relay.js';
import { record, states, waitForEvent } from '../testing/events.js';

const quick = { reconnect: { baseMs: 10, maxMs: 50, jitter: 0 } };

test('registration: socket CONNECTING, OPEN; registration CHALLENGED, RESPONDED, VERIFIED', async (t) => {
  const relay = await MockRelay.start({ latencyMs: 2 });
  const clients = [];
  t.after(() => { clients.forEach((c) => c.close()); relay.shutdown(); });
  const c = new Client({ url: 'ws://mock/', WebSocket: relay.WebSocket, ...quick });
  clients.push(c);
  const log = record(c);
  await c.start();
  await c.ready(3000);
  assert.match(c.sig, /^[A-Za-z0-9_-]{43}$/);
  assert.deepEqual(states(log, 'socket'), ['CONNECTING', 'OPEN']);
  assert.deepEqual(states(log, 'registration'), ['CHALLENGED', 'RESPONDED', 'VERIFIED']);
  assert.ok(relay.registry.has(c.sig), 'the mock relay checked the proof and registered us');
  const r3 = relay.received.find((m) => m.handler === 'register3');
  assert.equal(r3.publicKeySig, c.sig);
  assert.equal(r3.publicKey, c.publicKeyPem);
  assert.equal(JSON.parse(r3.clearText).t1, log.find((e) => e.state === 'CHALLENGED').t1);
  c.close();
  await waitForEvent(c, 'state', (d) => d.kind === 'socket' && d.state === 'CLOSED', 2000);
  assert.deepEqual(states(log, 'socket').slice(-2), ['CLOSING', 'CLOSED']);
  assert.equal(log.filter((e) => e.type === 'reconnect').length, 0, 'close() means no reconnect');
});

test('registration: a refused proof is UNVERIFIED and stops the client (no retry loop)', async (t) => {
  const relay = await MockRelay.start();
  const clients = [];
  t.after(() => { clients.forEach((c) => c.close()); relay.shutdown(); });
  const c = new Client({ url: 'ws://mock/', WebSocket: relay.WebSocket, ...quick });
  clients.push(c);
  await (await c.start()).ready();
  // Claiming another identity's SIG with our key: the relay refuses it.
  const other = await createIdentity();
  c.identity = { ...c.identity, sig: other.sig };
  const log = record(c);
  relay.server.dropAll(); // reconnect with the bad identity
  const stopped = await waitForEvent(c, 'stopped', () => true, 3000);
  assert.match(stopped.reason, /SIG_MISMATCH/);
  assert.ok(states(log, 'registration').includes('UNVERIFIED'));
  assert.equal(log.find((e) => e.state === 'UNVERIFIED').error, 'SIG_MISMATCH');
  await assert.rejects(c.ready(100), { code: 'STOPPED' });
});

test('registration: a relay that never challenges -> timeout, drop, reconnect', async (t) => {
  const relay = await MockRelay.start();
  const clients = [];
  t.after(() => { clients.forEach((c) => c.close()); relay.shutdown(); });
  relay.silent = true;
  const c = new Client({ url: 'ws://mock/', WebSocket: relay.WebSocket, registerTimeoutMs: 60, ...quick });
  clients.push(c);
  const log = record(c);
  await c.start();
  const closed = await waitForEvent(c, 'state', (d) => d.kind === 'socket' && d.state === 'CLOSED', 2000);
  assert.equal(closed.reason, 'registration timeout');
  assert.equal(closed.code, 4999, 'dropped by the client, not closed by the relay');
  relay.silent = false;
  await c.ready(3000);
  assert.ok(log.some((e) => e.type === 'reconnect'));
});

test('registration: a handshake that never completes -> connect timeout, then a retry', async (t) => {
  const relay = await MockRelay.start();
  const clients = [];
  t.after(() => { clients.forEach((c) => c.close()); relay.shutdown(); });
  relay.server.stall = true;
  const c = new Client({ url: 'ws://mock/', WebSocket: relay.WebSocket, connectTimeoutMs: 50, ...quick });
  clients.push(c);
  await c.start();
  const closed = await waitForEvent(c, 'state', (d) => d.kind === 'socket' && d.state === 'CLOSED', 2000);
  assert.equal(closed.reason, 'connect timeout');
  assert.equal(closed.code, 4999);
  relay.server.stall = false;
  await c.ready(3000);
});

test('registration: a second challenge on a registered socket -> ERROR, drop, register again', async (t) => {
  const relay = await MockRelay.start();
  const clients = [];
  t.after(() => { clients.forEach((c) => c.close()); relay.shutdown(); });
  const c = new Client({ url: 'ws://mock/', WebSocket: relay.WebSocket, ...quick });
  clients.push(c);
  await (await c.start()).ready();
  const log = record(c);
  relay.registry.get(c.sig).peer.send(JSON.stringify({ handler: 'register2', publicKeyPem: relay.identity.publicKeyPem, t1: 1 }));
  await waitForEvent(c, 'state', (d) => d.kind === 'registration' && d.state === 'VERIFIED', 3000);
  assert.deepEqual(states(log, 'registration'), ['ERROR', 'UNREGISTERED', 'CHALLENGED', 'RESPONDED', 'VERIFIED']);
  assert.equal(log.find((e) => e.state === 'ERROR').error, 'UNEXPECTED_REGISTER2');
  assert.equal(log.find((e) => e.kind === 'socket' && e.state === 'CLOSED').reason, 'unexpected register2');
});
