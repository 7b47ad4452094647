// Envelopes and look-ups between two clients over the mock relay.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '../client.js';
import { createIdentity } from '../identity.js';
import { MockRelay } from '../testing/mock-relay.js';
import { record, waitForEvent } from '../testing/events.js';

let relay;
let A;
let B;
before(async () => {
  relay = await MockRelay.start({ latencyMs: 2 });
  A = new Client({ url: 'ws://mock/', WebSocket: relay.WebSocket });
  B = new Client({ url: 'ws://mock/', WebSocket: relay.WebSocket });
  await Promise.all([A.start(), B.start()]);
  await Promise.all([A.ready(), B.ready()]);
});
after(() => {
  A.close();
  B.close();
  relay.shutdown();
});

const envelopeStates = (log, id) => log.filter((e) => e.kind === 'envelope' && e.id === id).map((e) => e.state);

test('envelopes: B looks A up, sends; A decrypts; states SENDING SENT / RECEIVING RECEIVED', async () => {
  const logA = record(A);
  const logB = record(B);
  assert.equal(await B.lookup(A.sig), A.publicKeyPem);
  const got = waitForEvent(A, 'message');
  const { id } = await B.send(A.sig, { text: 'hello A', n: 1 });
  const m = await got;
  assert.equal(m.from, B.sig);
  assert.deepEqual(m.body, { text: 'hello A', n: 1 });
  assert.deepEqual(envelopeStates(logB, id), ['SENDING', 'SENT']);
  assert.deepEqual(envelopeStates(logA, id), ['RECEIVING', 'RECEIVED']);
  // The wire carried a box, not the text.
  const wire = relay.received.find((x) => x.handler === 'deliverEnvelop' && x.id === id);
  assert.ok(!JSON.stringify(wire).includes('hello A'));
  assert.equal(wire.fromPublicKeyPem, B.publicKeyPem);
});

test('envelopes: onTransmit reports the envelope on the socket before the delivered ack', async () => {
  const order = [];
  const got = waitForEvent(A, 'message');
  const sending = B.send(A.sig, { text: 'staged' }, {
    onTransmit: (d) => order.push(['transmit', d.id, d.to, d.bytes > 0]),
  });
  const { id } = await sending;
  order.push(['delivered', id]);
  await got;
  assert.deepEqual(order, [['transmit', id, A.sig, true], ['delivered', id]]);
  // The relay's `delivered` carried this id, and the wire envelope had it.
  assert.ok(relay.received.some((x) => x.handler === 'deliverEnvelop' && x.id === id));
});

test('envelopes: refused by the relay after transmission -> onTransmit ran, then the relay\'s code', async () => {
  const C = new Client({ url: 'ws://mock/', WebSocket: relay.WebSocket });
  await (await C.start()).ready();
  await A.lookup(C.sig);
  C.close();
  const deadline = Date.now() + 2000;
  while (relay.registry.has(C.sig) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  let transmitted = 0;
  await assert.rejects(A.send(C.sig, { text: 'gone' }, { onTransmit: () => transmitted++ }), { code: 'RECIPIENT_NOT_AVAILABLE' });
  assert.equal(transmitted, 1);
});

test('envelopes: too large -> no onTransmit', async () => {
  let transmitted = 0;
  await assert.rejects(A.send(B.sig, { text: 'x'.repeat(3000) }, { onTransmit: () => transmitted++ }), { code: 'TOO_LARGE' });
  assert.equal(transmitted, 0);
});

test('envelopes: A answers without a look-up (B introduced itself); order is kept', async () => {
  const before = relay.received.filter((x) => x.handler === 'invite3').length;
  const got = [];
  const onMessage = (ev) => got.push(ev.detail.body.i);
  B.addEventListener('message', onMessage);
  await Promise.all(Array.from({ length: 20 }, (_, i) => A.send(B.sig, { i })));
  const deadline = Date.now() + 3000;
  while (got.length < 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  B.removeEventListener('message', onMessage);
  assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => i));
  assert.equal(relay.received.filter((x) => x.handler === 'invite3').length, before);
});

test('envelopes: to nobody -> RECIPIENT_NOT_AVAILABLE (look-up fails first)', async () => {
  const nobody = await createIdentity();
  const log = record(A);
  await assert.rejects(A.send(nobody.sig, { text: 'x' }), { code: 'RECIPIENT_NOT_AVAILABLE' });
  await assert.rejects(A.lookup(nobody.sig), { code: 'RECIPIENT_NOT_AVAILABLE' });
  const last = log.filter((e) => e.kind === 'envelope').at(-1);
  assert.equal(last.state, 'ERROR');
  assert.equal(last.error, 'RECIPIENT_NOT_AVAILABLE');
});

test('envelopes: a known peer that left -> the relay\'s error with our id', async () => {
  const C = new Client({ url: 'ws://mock/', WebSocket: relay.WebSocket });
  await (await C.start()).ready();
  await A.lookup(C.sig);
  C.close();
  const deadline = Date.now() + 2000;
  while (relay.registry.has(C.sig) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  await assert.rejects(A.send(C.sig, { text: 'gone?' }), { code: 'RECIPIENT_NOT_AVAILABLE' });
});

test('envelopes: too large for the relay -> TOO_LARGE before anything is sent', async () => {
  const count = relay.received.length;
  await assert.rejects(A.send(B.sig, { text: 'x'.repeat(3000) }), { code: 'TOO_LARGE' });
  assert.equal(relay.received.length, count);
});

test('envelopes: bad SIG is refused locally', async () => {
  await assert.rejects(A.send('nope', {}), { code: 'BAD_SIG' });
  await assert.rejects(A.lookup('nope'), { code: 'BAD_SIG' });
});

test('look-up: a key that does not hash to the SIG is refused (KEY_MISMATCH)', async () => {
  const stranger = await createIdentity();
  const victim = await createIdentity();
  relay.lookupLies = stranger.publicKeyPem;
  try {
    await assert.rejects(A.lookup(victim.sig), { code: 'KEY_MISMATCH' });
  } finally {
    relay.lookupLies = null;
  }
});

test('envelopes: a forged fromPublicKeyPem is not decrypted with (ERROR, no message)', async () => {
  const mallory = await createIdentity();
  const log = record(A);
  let messages = 0;
  A.addEventListener('message', () => messages++);
  // B's socket, but an envelope claiming another key for B's SIG.
  relay.registry.get(A.sig).peer.send(JSON.stringify({
    handler: 'acceptEnvelop', from: B.sig, to: A.sig, box: '00'.repeat(32), fromPublicKeyPem: mallory.publicKeyPem, id: 'forged',
  }));
  const err = await waitForEvent(A, 'state', (d) => d.kind === 'envelope' && d.id === 'forged' && d.state === 'ERROR', 2000);
  assert.match(err.error, /does not match/);
  assert.equal(messages, 0);
  assert.deepEqual(envelopeStates(log, 'forged'), ['RECEIVING', 'ERROR']);
});
