// The per-address registration limits count the client's real address:
// behind a trusted proxy (here: the test itself, from 127.0.0.1, sending
// X-Forwarded-For) each forwarded address has its own allowance, and
// clients behind one forwarded address share one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, makeRegister3 } from '../lib/client.mjs';
import { withRelay, closeAll, relayHasFlag } from '../lib/harness.mjs';

const skip = relayHasFlag('--trusted-proxy') ? false : 'the binary has no --trusted-proxy';

async function registerAtOnce(url, forwardedFor) {
  const clients = await Promise.all(forwardedFor.map((xff) =>
    Client.connect(url, { wsOptions: { headers: { 'X-Forwarded-For': xff } } })));
  const proofs = await Promise.all(clients.map((c) => makeRegister3(c.identity, c.register2)));
  clients.forEach((c, i) => c.send(proofs[i]));
  const answers = await Promise.all(clients.map((c) => c.next((m) => m.handler === 'register4', 10000)));
  await closeAll(clients);
  const count = (what) => answers.filter((a) => (a.error ?? a.state2) === what).length;
  return { verified: count('VERIFIED'), busy: count('BUSY'), other: answers.length - count('VERIFIED') - count('BUSY') };
}

test('--registration-rate-per-ip counts the forwarded address of a trusted proxy', { skip }, async () => {
  await withRelay(['--trusted-proxy', '127.0.0.1', '--registration-rate-per-ip', '1'], async (r) => {
    // Eight clients, eight addresses: each has its own bucket.
    const many = Array.from({ length: 8 }, (_, i) => `198.51.100.${i + 1}`);
    assert.deepEqual(await registerAtOnce(r.url, many), { verified: 8, busy: 0, other: 0 });
    // Eight clients behind one address: one bucket, bursts of 2 (3 at most
    // once a token came back meanwhile).
    const res = await registerAtOnce(r.url, Array(8).fill('203.0.113.9'));
    assert.ok(res.verified >= 2 && res.verified <= 3 && res.busy === 8 - res.verified, JSON.stringify(res));
  });
});
