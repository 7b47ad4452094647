// Load: 500 clients register at once (proofs on 2 crypto threads) while a
// registered pair keeps exchanging pings and envelopes: every client is
// VERIFIED and the pair's round trips stay short throughout, i.e. the
// proofs run off the IO threads (protocol.md, Registration 3).
// The crowd runs in a worker thread (lib/crowd-worker.mjs) so that its
// handshakes and key imports do not stall the thread that times the pair.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Client, sleep, withTimeout } from '../lib/client.mjs';
import { withRelay, closeAll } from '../lib/harness.mjs';

const N = Number(process.env.E2E_LOAD_CLIENTS || 500);
const MAX_RTT_MS = Number(process.env.E2E_LOAD_MAX_RTT_MS || 500);
const BUDGET_MS = 60000;

// The worker's next message satisfying pred, bounded.
function fromWorker(worker, pred, ms, what) {
  return withTimeout(new Promise((resolve, reject) => {
    const onMsg = (m) => { if (pred(m)) { off(); resolve(m); } };
    const onErr = (e) => { off(); reject(e); };
    const onExit = (code) => { off(); reject(new Error(`crowd worker exited with ${code}`)); };
    const off = () => { worker.off('message', onMsg); worker.off('error', onErr); worker.off('exit', onExit); };
    worker.on('message', onMsg);
    worker.once('error', onErr);
    worker.once('exit', onExit);
  }), ms, what);
}

test(`load: ${N} clients register at once; a pair's ping and envelope round trips stay under ${MAX_RTT_MS} ms`, { timeout: BUDGET_MS + 60000 }, async (t) => {
  // One address holds all the clients, as behind a proxy: its per-address
  // registration limits are lifted here (tests/hostile covers them).
  await withRelay(['--crypto-threads', '2', '--max-registrations-per-ip', '0', '--registration-rate-per-ip', '0',
    // The storm's queue wait counts against --register-timeout; a slow
    // (sanitizer) build must not turn it into TIMEOUTs.
    '--register-timeout', '60'], async (r) => {
    const P = await Client.registered(r.url);
    const Q = await Client.registered(r.url);
    const worker = new Worker(new URL('../lib/crowd-worker.mjs', import.meta.url), {
      workerData: { url: r.url, n: N, timeoutMs: BUDGET_MS },
    });
    const rtts = [];
    const envRtts = [];
    let stop = false;
    try {
      await fromWorker(worker, (m) => m.ready, 60000, 'crowd key pairs');
      const chatter = (async () => {
        let k = 0;
        const deadline = Date.now() + BUDGET_MS + 5000;
        while (!stop && Date.now() < deadline) {
          const { rttMs } = await P.ping(`load-${k}`, 5000);
          rtts.push(rttMs);
          const t0 = performance.now();
          P.deliver(Q.sig, Buffer.from(`e${k}`).toString('hex'), k);
          const ack = await P.next((m) => m.id === k, 5000);
          assert.equal(ack.handler, 'delivered', JSON.stringify(ack));
          const got = await Q.next((m) => m.handler === 'acceptEnvelop', 5000);
          assert.equal(got.id, k);
          envRtts.push(performance.now() - t0);
          k++;
          await sleep(20);
        }
      })();
      chatter.catch(() => {});

      const loop = monitorEventLoopDelay({ resolution: 10 });
      loop.enable();
      const done = fromWorker(worker, (m) => m.done || m.failed, BUDGET_MS + 5000, `${N} registrations`);
      worker.postMessage('go');
      const result = await done;
      stop = true;
      await withTimeout(chatter, 15000, 'the pair\'s last round trip');
      loop.disable();
      assert.ok(!result.failed, `crowd: ${result.failed}`);

      const verified = result.states.filter((s) => s === 'VERIFIED').length;
      assert.equal(verified, N, `not verified: ${result.states.find((s) => s !== 'VERIFIED')}`);
      const max = (a) => a.reduce((x, y) => Math.max(x, y), 0);
      // This thread's own stalls count in every round trip measured here.
      t.diagnostic(`${N} registered in ${result.ms} ms; ${rtts.length} pings, max ${max(rtts).toFixed(1)} ms; `
        + `${envRtts.length} envelopes, max ${max(envRtts).toFixed(1)} ms; `
        + `timing thread stalled up to ${(loop.max / 1e6).toFixed(1)} ms`);
      assert.ok(rtts.length >= 3, `only ${rtts.length} pings during the registrations`);
      assert.ok(max(rtts) < MAX_RTT_MS, `ping round trip up to ${max(rtts).toFixed(1)} ms`);
      assert.ok(max(envRtts) < MAX_RTT_MS, `envelope round trip up to ${max(envRtts).toFixed(1)} ms`);
    } finally {
      stop = true;
      worker.postMessage('close');
      await fromWorker(worker, (m) => m.closed, 10000, 'crowd close').catch(() => {});
      await worker.terminate();
      await closeAll([P, Q]);
    }
  }, { threads: 2 });
});
