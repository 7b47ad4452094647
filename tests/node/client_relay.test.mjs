// The product client (proto/js/client.js) against the real relay binary:
// registration, envelopes both ways, look-ups, takeover, and reconnecting
// with re-registration after the relay restarts on the same port.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import WebSocket from 'ws';
import { Relay, binary, extraArgs, freePort } from './relay.mjs';
import { Client } from '../../proto/js/client.js';
import { createIdentity } from '../../proto/js/identity.js';
import { record, states, waitForEvent } from '../../proto/js/testing/events.js';

const fast = { baseMs: 100, factor: 2, maxMs: 1000, jitter: 0 };
const clients = [];
function newClient(url, opts = {}) {
  const c = new Client({ url, WebSocket, reconnect: fast, ...opts });
  clients.push(c);
  return c;
}
async function registered(url, opts) {
  const c = newClient(url, opts);
  await c.start();
  await c.ready(10000);
  return c;
}

let relay;
before(async () => {
  relay = await Relay.start();
});
after(async () => {
  for (const c of clients) c.close();
  await relay.stop();
});

test('client: registers with the relay: CONNECTING OPEN, CHALLENGED RESPONDED VERIFIED, and a lag', async () => {
  const c = newClient(relay.url);
  const log = record(c);
  const lag = waitForEvent(c, 'lag', () => true, 10000);
  await c.start();
  await c.ready(10000);
  assert.deepEqual(states(log, 'socket'), ['CONNECTING', 'OPEN']);
  assert.deepEqual(states(log, 'registration'), ['CHALLENGED', 'RESPONDED', 'VERIFIED']);
  assert.match(c.sig, /^[A-Za-z0-9_-]{43}$/);
  const { ms } = await lag;
  assert.ok(ms >= 0 && ms < 5000, `lag ${ms}`);
  c.close();
  await waitForEvent(c, 'state', (d) => d.kind === 'socket' && d.state === 'CLOSED', 5000);
});

test('client: look-up of a registered SIG gives its PEM; of an absent one, RECIPIENT_NOT_AVAILABLE', async () => {
  const [A, B] = await Promise.all([registered(relay.url), registered(relay.url)]);
  assert.equal(await B.lookup(A.sig), A.publicKeyPem);
  const nobody = await createIdentity();
  await assert.rejects(B.lookup(nobody.sig), { code: 'RECIPIENT_NOT_AVAILABLE' });
  A.close();
  B.close();
});

test('client: send and receive both ways, decrypted; envelope states on both ends', async () => {
  const [A, B] = await Promise.all([registered(relay.url), registered(relay.url)]);
  const logA = record(A);
  const logB = record(B);
  // B knows only A's SIG (an invite link), as a guest does.
  const atA = waitForEvent(A, 'message', () => true, 10000);
  const { id } = await B.send(A.sig, { text: 'hello from B — ünïcødé ✓' });
  const m = await atA;
  assert.equal(m.from, B.sig);
  assert.equal(m.body.text, 'hello from B — ünïcødé ✓');
  const atB = waitForEvent(B, 'message', () => true, 10000);
  await A.send(B.sig, { text: 'hello back from A' });
  assert.equal((await atB).body.text, 'hello back from A');
  // Ids are per sender, so B's reply may reuse one: tell them apart by peer.
  const env = (log, pick) => log.filter((e) => e.kind === 'envelope' && e.id === id && pick(e)).map((e) => e.state);
  assert.deepEqual(env(logB, (e) => e.to === A.sig), ['SENDING', 'SENT']);
  assert.deepEqual(env(logA, (e) => e.from === B.sig), ['RECEIVING', 'RECEIVED']);
  A.close();
  B.close();
});

test('client: an envelope to a SIG nobody holds fails with RECIPIENT_NOT_AVAILABLE', async () => {
  const A = await registered(relay.url);
  const nobody = await createIdentity();
  await assert.rejects(A.send(nobody.sig, { text: 'anyone?' }), { code: 'RECIPIENT_NOT_AVAILABLE' });
  A.close();
});

test('client: a second tab with the same key takes over; the first stops (REPLACED)', async () => {
  const first = await registered(relay.url);
  const stopped = waitForEvent(first, 'stopped', () => true, 10000);
  await registered(relay.url, { identity: first.identity });
  assert.match((await stopped).reason, /REPLACED/);
});

// ---------------------------------------------------------------- restart

function listening(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    const done = (ok) => { clearTimeout(t); s.destroy(); resolve(ok); };
    const t = setTimeout(() => done(false), 500);
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

// relay.mjs picks a fresh port per start; a restart must reuse the old one.
async function startRelayOn(port, timeoutMs = 10000) {
  const proc = spawn(binary(), ['--listen', `127.0.0.1:${port}`, '--threads', '2', '--log-level', 'warn', ...extraArgs()],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  const r = new Relay(proc, port);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (r.exitCode !== undefined) throw new Error(`relay exited with ${r.exitCode}: ${r.out}`);
    if (await listening(port)) return r;
    await new Promise((res) => setTimeout(res, 50));
  }
  proc.kill('SIGKILL');
  throw new Error(`relay did not listen on ${port}: ${r.out}`);
}

test('client: reconnects with backoff and re-registers after the relay restarts', async () => {
  const port = await freePort();
  let r = await startRelayOn(port);
  try {
    const url = `ws://127.0.0.1:${port}/`;
    const [A, B] = await Promise.all([registered(url), registered(url)]);
    const sigs = [A.sig, B.sig];
    const logA = record(A);
    await r.stop(); // SIGTERM: close 1001 to both, then exit
    await waitForEvent(A, 'reconnect', (d) => d.attempt >= 2, 10000); // at least one refused retry
    r = await startRelayOn(port);
    await Promise.all([A.ready(15000), B.ready(15000)]);
    assert.deepEqual([A.sig, B.sig], sigs, 'the same key pairs');
    const closed = logA.find((e) => e.kind === 'socket' && e.state === 'CLOSED');
    assert.equal(closed.code, 1001);
    const delays = logA.filter((e) => e.type === 'reconnect').map((e) => e.delayMs);
    assert.deepEqual(delays.slice(0, 2), [100, 200]);
    assert.deepEqual(states(logA, 'registration').slice(-3), ['CHALLENGED', 'RESPONDED', 'VERIFIED']);
    // The restarted relay knows nothing: envelopes flow only because both re-registered.
    const atA = waitForEvent(A, 'message', () => true, 10000);
    await B.send(A.sig, { text: 'after the restart' });
    assert.equal((await atA).body.text, 'after the restart');
    A.close();
    B.close();
  } finally {
    await r.stop();
  }
});
