// The demo page's conversations and outbox (proto/js/demo) over the mock
// relay: delivery states from the protocol's acks, messages typed offline,
// refusals with a retry, the grace for a recipient still reconnecting, and
// the contact list's unread counts and order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '../client.js';
import { isSig } from '../identity.js';
import { MockRelay } from '../testing/mock-relay.js';
import { waitForEvent, sleep } from '../testing/events.js';
import { Conversations, parseInvite } from '../demo/conversations.js';
import { Outbox } from '../demo/outbox.js';

const fast = { baseMs: 20, factor: 2, maxMs: 100, jitter: 0 };

async function setup(t, names = ['A', 'B']) {
  const relay = await MockRelay.start({ latencyMs: 2 });
  const clients = {};
  const outboxes = [];
  t.after(() => { outboxes.forEach((o) => o.close()); Object.values(clients).forEach((c) => c.close()); relay.shutdown(); });
  for (const n of names) clients[n] = new Client({ url: 'ws://mock/', WebSocket: relay.WebSocket, reconnect: fast });
  await Promise.all(Object.values(clients).map(async (c) => (await c.start()).ready()));
  const model = new Conversations();
  const track = (options) => {
    const o = new Outbox(clients.A, model, options);
    outboxes.push(o);
    return o;
  };
  return { relay, clients, model, track };
}

// Every delivery state a message went through, from the model's events.
function history(model, m) {
  const seen = [];
  model.addEventListener('change', (ev) => {
    if (ev.detail.message === m || (ev.detail.what === 'message' && ev.detail.message?.n === m?.n)) {
      seen.push(ev.detail.message.reason ? `${ev.detail.message.state}:${ev.detail.message.reason}` : ev.detail.message.state);
    }
  });
  return seen;
}

const settled = (model, pred, ms = 3000) => waitForEvent(model, 'change', (d) => d.message && pred(d.message), ms);

test('outbox: queued -> sending -> sent -> delivered, and the text arrives', async (t) => {
  const { clients: { A, B }, model, track } = await setup(t);
  const outbox = track();
  const got = waitForEvent(B, 'message', () => true, 3000);
  const seen = [];
  model.addEventListener('change', (ev) => { if (ev.detail.what === 'message') seen.push(ev.detail.message.state); });
  const m = outbox.send(B.sig, 'hello');
  await settled(model, (x) => x === m && x.state === 'delivered');
  assert.deepEqual(seen, ['queued', 'sending', 'sent', 'delivered']);
  assert.equal((await got).body.text, 'hello');
  assert.equal(typeof m.envelopeId, 'number', 'the envelope id the relay acked');
  assert.equal(model.get(B.sig).messages.length, 1);
  assert.equal(A.verified, true);
});

test('outbox: typed while offline -> queued; all go, in order, once registered again', async (t) => {
  const { relay, clients: { A, B }, model, track } = await setup(t);
  const outbox = track();
  const got = [];
  B.addEventListener('message', (ev) => got.push(ev.detail.body.text));
  relay.server.refuse = true;
  relay.registry.get(A.sig).peer.drop();
  await waitForEvent(A, 'state', (d) => d.kind === 'socket' && d.state === 'CLOSED', 2000);
  const ms = ['one', 'two', 'three'].map((text) => outbox.send(B.sig, text));
  await sleep(150); // several refused reconnects
  assert.deepEqual(ms.map((m) => m.state), ['queued', 'queued', 'queued']);
  assert.equal(outbox.queued, 3);
  relay.server.refuse = false;
  await settled(model, (x) => x === ms[2] && x.state === 'delivered', 4000);
  assert.deepEqual(ms.map((m) => m.state), ['delivered', 'delivered', 'delivered']);
  const deadline = Date.now() + 2000;
  while (got.length < 3 && Date.now() < deadline) await sleep(5);
  assert.deepEqual(got, ['one', 'two', 'three']);
  assert.equal(outbox.queued, 0);
});

test('outbox: a recipient that left -> failed: RECIPIENT_NOT_AVAILABLE; retry fails again, then works when it is back', async (t) => {
  const { relay, clients: { B }, model, track } = await setup(t);
  const outbox = track();
  const first = outbox.send(B.sig, 'hi');
  await settled(model, (x) => x === first && x.state === 'delivered');
  B.close();
  const deadline = Date.now() + 2000;
  while (relay.registry.has(B.sig) && Date.now() < deadline) await sleep(5);
  const m = outbox.send(B.sig, 'are you there?');
  await settled(model, (x) => x === m && x.state === 'failed');
  assert.equal(m.reason, 'RECIPIENT_NOT_AVAILABLE');
  outbox.retry(m);
  assert.equal(m.state, 'queued');
  await settled(model, (x) => x === m && x.state === 'failed');
  assert.equal(m.reason, 'RECIPIENT_NOT_AVAILABLE');
  // B's tab again (same key): the retry goes through.
  const B2 = new Client({ url: 'ws://mock/', WebSocket: relay.WebSocket, identity: B.identity, reconnect: fast });
  t.after(() => B2.close());
  await (await B2.start()).ready();
  const got = waitForEvent(B2, 'message', () => true, 3000);
  outbox.retry(m);
  await settled(model, (x) => x === m && x.state === 'delivered');
  assert.equal((await got).body.text, 'are you there?');
  outbox.retry(m); // not failed: nothing happens
  assert.equal(m.state, 'delivered');
});

test('outbox: after a reconnect, a queued message waits (grace) for a recipient still coming back', async (t) => {
  const { relay, clients: { A, B }, model, track } = await setup(t);
  const outbox = track({ graceMs: 3000, retryMs: 30 });
  await A.lookup(B.sig);
  B.close();
  relay.registry.get(A.sig).peer.drop();
  await waitForEvent(A, 'state', (d) => d.kind === 'socket' && d.state === 'CLOSED', 2000);
  const m = outbox.send(B.sig, 'after the outage');
  const seen = history(model, m);
  await waitForEvent(A, 'state', (d) => d.kind === 'registration' && d.state === 'VERIFIED', 2000);
  // A is back, B is not: retried (every 30 ms; a busy machine runs timers
  // late, so wait for the retries rather than a fixed time), still queued.
  const tries = () => relay.received.filter((x) => x.handler === 'deliverEnvelop' && x.to === B.sig).length;
  const until = Date.now() + 2000;
  while (tries() < 3 && Date.now() < until) await sleep(10);
  assert.ok(tries() >= 3, 'retried');
  assert.equal(m.state, 'queued');
  assert.equal(m.reason, 'RECIPIENT_NOT_AVAILABLE');
  const B2 = new Client({ url: 'ws://mock/', WebSocket: relay.WebSocket, identity: B.identity, reconnect: fast });
  t.after(() => B2.close());
  const got = waitForEvent(B2, 'message', () => true, 3000);
  await (await B2.start()).ready();
  await settled(model, (x) => x === m && x.state === 'delivered');
  assert.equal((await got).body.text, 'after the outage');
  assert.ok(seen.includes('queued:RECIPIENT_NOT_AVAILABLE'));
  assert.ok(!seen.includes('failed:RECIPIENT_NOT_AVAILABLE'));
});

test('outbox: the grace ends -> failed; a message typed while online gets no grace', async (t) => {
  const { relay, clients: { A, B }, model, track } = await setup(t);
  const outbox = track({ graceMs: 200, retryMs: 30 });
  await A.lookup(B.sig);
  B.close();
  relay.registry.get(A.sig).peer.drop();
  await waitForEvent(A, 'state', (d) => d.kind === 'socket' && d.state === 'CLOSED', 2000);
  const m = outbox.send(B.sig, 'nobody will read this');
  const started = Date.now();
  await settled(model, (x) => x === m && x.state === 'failed', 3000);
  assert.equal(m.reason, 'RECIPIENT_NOT_AVAILABLE');
  assert.ok(Date.now() - started >= 200, 'retried through the grace');
  const online = outbox.send(B.sig, 'now');
  const t0 = Date.now();
  await settled(model, (x) => x === online && x.state === 'failed', 3000);
  assert.ok(Date.now() - t0 < 150, 'failed at once');
});

test('conversations: unread counts, selection, order, names', () => {
  const model = new Conversations();
  const [b, c] = ['B'.repeat(43), 'C'.repeat(43)];
  model.open(b);
  model.open(c, { name: '  Carol   the  second ' });
  assert.equal(model.get(c).name, 'Carol the second');
  assert.deepEqual(model.list().map((x) => x.sig), [c, b], 'newest first');
  model.select(b);
  model.addIncoming(b, 'seen at once');
  model.addIncoming(c, 'one');
  model.addIncoming(c, 'two');
  assert.equal(model.get(b).unread, 0);
  assert.equal(model.get(c).unread, 2);
  assert.equal(model.totalUnread, 2);
  model.addIncoming(b, 'tab in the background', { seen: false });
  assert.equal(model.get(b).unread, 1);
  model.markSeen(b);
  assert.deepEqual(model.list().map((x) => x.sig), [b, c], 'the latest message moves its conversation up');
  model.select(c);
  assert.equal(model.totalUnread, 0);
  model.addNotice(b, 'a notice is no activity');
  assert.deepEqual(model.list().map((x) => x.sig), [b, c]);
  assert.equal(model.lastMessage(model.get(b)).text, 'tab in the background');
  model.rename(c, 'x'.repeat(100));
  assert.equal(model.get(c).name.length, 40);
  assert.throws(() => model.setState(model.addOutgoing(b, 'x'), 'lost'), RangeError);
});

test('conversations: bounded in conversations and messages', () => {
  const model = new Conversations({ maxConversations: 3, maxMessages: 5 });
  const sigs = ['a', 'b', 'c', 'd'].map((ch) => ch.repeat(43));
  model.open(sigs[0]);
  model.select(sigs[0]);
  for (const s of sigs.slice(1)) model.open(s);
  assert.equal(model.list().length, 3);
  assert.ok(model.get(sigs[0]), 'the open conversation is kept');
  assert.equal(model.get(sigs[1]), null, 'the oldest other one went');
  for (let i = 0; i < 12; i++) model.addIncoming(sigs[0], `m${i}`);
  assert.deepEqual(model.get(sigs[0]).messages.map((m) => m.text), ['m7', 'm8', 'm9', 'm10', 'm11']);
});

test('parseInvite: an invite link or a bare SIG; anything else is null', () => {
  const sig = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456';
  assert.equal(parseInvite(sig, isSig), sig);
  assert.equal(parseInvite(`  ${sig}\n`, isSig), sig);
  assert.equal(parseInvite(`http://127.0.0.1:8080/#${sig}`, isSig), sig);
  assert.equal(parseInvite(`https://chat.example/room?relay=ws://x/#${sig}`, isSig), sig);
  assert.equal(parseInvite(`http://127.0.0.1:8080/#${sig}x`, isSig), null);
  assert.equal(parseInvite(`http://127.0.0.1:8080/${sig}`, isSig), null);
  assert.equal(parseInvite('hello', isSig), null);
  assert.equal(parseInvite('', isSig), null);
  assert.equal(parseInvite(null, isSig), null);
});
