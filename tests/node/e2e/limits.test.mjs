// Per-sender rate and per-recipient backlog (protocol.md, "Errors" and
// "Limits a production relay enforces").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, sleep, withTimeout } from '../lib/client.mjs';
import { withRelay, relayHasFlag, expectOpen, closeAll } from '../lib/harness.mjs';

test('rate: --rate 10, a burst of 100 envelopes: about 20 delivered, the rest RATE_LIMITED', async () => {
  await withRelay(['--rate', '10'], async (r) => {
    const A = await Client.registered(r.url);
    const B = await Client.registered(r.url);
    try {
      const N = 100;
      const start = Date.now();
      for (let i = 0; i < N; i++) A.deliver(B.sig, Buffer.from(`n${i}`).toString('hex'), i);
      const answers = [];
      for (let i = 0; i < N; i++) {
        answers.push(await A.next((m) => m.handler === 'delivered' || m.handler === 'error', 10000));
      }
      const elapsedS = (Date.now() - start) / 1000;
      const delivered = answers.filter((m) => m.handler === 'delivered');
      const limited = answers.filter((m) => m.error === 'RATE_LIMITED');
      assert.equal(delivered.length + limited.length, N,
        `other answers: ${JSON.stringify(answers.filter((m) => m.handler === 'error' && m.error !== 'RATE_LIMITED').slice(0, 3))}`);
      // Burst 2 x rate = 20, plus at most rate x elapsed refilled meanwhile.
      assert.ok(delivered.length >= 20, `only ${delivered.length} delivered`);
      assert.ok(delivered.length <= 20 + Math.ceil(10 * elapsedS) + 1,
        `${delivered.length} delivered in ${elapsedS} s`);
      assert.ok(limited.length >= 70, `only ${limited.length} RATE_LIMITED`);
      for (const e of limited) {
        assert.equal(e.to, B.sig);
        assert.equal(typeof e.id, 'number');
      }
      // Every id answered once.
      assert.deepEqual(answers.map((m) => m.id).sort((x, y) => x - y), Array.from({ length: N }, (_, i) => i));
      // B got exactly the delivered ones, in order.
      const ids = [];
      for (let i = 0; i < delivered.length; i++) ids.push((await B.next((m) => m.handler === 'acceptEnvelop')).id);
      assert.deepEqual(ids, delivered.map((m) => m.id).sort((x, y) => x - y));
      await B.nothing((m) => m.handler === 'acceptEnvelop', 300);
      // The bucket refills: after a second, sending works again.
      await sleep(1100);
      A.deliver(B.sig, 'abcd', 'later');
      assert.deepEqual(await A.next((m) => m.id === 'later'), { handler: 'delivered', id: 'later' });
      await expectOpen(A, 'rate-limited sender');
    } finally {
      await closeAll([A, B]);
    }
  });
});

// B stops reading; A floods ~3 KB envelopes (paced below the default rate)
// until the relay says RECIPIENT_BACKLOGGED. Bounded in count and time.
async function floodUntilBacklogged(A, B, { maxEnvelopes = 8000, maxMs = 40000 } = {}) {
  const box = 'ab'.repeat(1500); // 3000 hex characters
  const start = Date.now();
  let sent = 0;
  let backlogged = null;
  const seen = A.next((m) => m.error === 'RECIPIENT_BACKLOGGED', maxMs + 5000).then((m) => { backlogged = m; });
  seen.catch(() => {});
  while (!backlogged && sent < maxEnvelopes && Date.now() - start < maxMs) {
    for (let i = 0; i < 50; i++) A.deliver(B.sig, box, sent++);
    await sleep(60); // ~830/s
    const other = A.queue.find((e) => e.msg.handler === 'error' && e.msg.error !== 'RECIPIENT_BACKLOGGED');
    if (other) assert.fail(`unexpected error while flooding: ${other.text}`);
  }
  await withTimeout(seen, 5000, 'RECIPIENT_BACKLOGGED').catch(() => {});
  return { backlogged, sent, ms: Date.now() - start };
}

test('backlog: --max-queued 65536, a reader that stops: the sender gets RECIPIENT_BACKLOGGED', async () => {
  await withRelay(['--max-queued', '65536'], async (r) => {
    const A = await Client.registered(r.url);
    const B = await Client.registered(r.url);
    try {
      B.ws._socket.pause();
      const { backlogged, sent } = await floodUntilBacklogged(A, B);
      assert.ok(backlogged, `no RECIPIENT_BACKLOGGED after ${sent} envelopes of 3 KB`);
      assert.equal(backlogged.to, B.sig);
      assert.equal(typeof backlogged.id, 'number');
      await expectOpen(A, 'sender');
    } finally {
      await closeAll([A, B]);
    }
  });
});

test('backlog: --slow-consumer-timeout 2: a reader that never reads while a sender keeps sending is dropped', async (t) => {
  if (!relayHasFlag('--slow-consumer-timeout')) {
    t.skip('the relay has no --slow-consumer-timeout');
    return;
  }
  await withRelay(['--max-queued', '65536', '--slow-consumer-timeout', '2'], async (r) => {
    const A = await Client.registered(r.url);
    const B = await Client.registered(r.url);
    try {
      B.ws._socket.pause();
      // Keep B's queue over the cap (kernel buffers fill first) until the
      // relay drops B: then B's SIG is no longer available.
      const box = 'ab'.repeat(1500);
      const start = Date.now();
      let sent = 0;
      let backlogged = 0;
      let gone = null;
      while (!gone && sent < 12000 && Date.now() - start < 45000) {
        for (let i = 0; i < 50; i++) A.deliver(B.sig, box, sent++);
        await sleep(60); // ~830/s, below the default rate
        for (let e = A.queue.shift(); e; e = A.queue.shift()) {
          if (e.msg.handler === 'delivered') continue;
          if (e.msg.error === 'RECIPIENT_BACKLOGGED') backlogged++;
          else if (e.msg.error === 'RECIPIENT_NOT_AVAILABLE') gone = { at: Date.now() - start, msg: e.msg };
          else assert.fail(`unexpected answer while flooding: ${e.text}`);
        }
      }
      assert.ok(backlogged > 0, `no RECIPIENT_BACKLOGGED after ${sent} envelopes`);
      assert.ok(gone, `the stuck reader was not dropped: ${sent} envelopes in ${Date.now() - start} ms, ${backlogged} backlogged`);
      t.diagnostic(`dropped after ${gone.at} ms, ${sent} envelopes sent, ${backlogged} backlogged`);
      // B, reading again, drains what was sent before and then sees the end.
      B.ws._socket.resume();
      const info = await B.waitClosed(20000);
      assert.notEqual(info.code, 1000, 'a slow consumer is dropped, not closed normally');
      await expectOpen(A, 'sender');
    } finally {
      await closeAll([A, B]);
    }
  });
});
