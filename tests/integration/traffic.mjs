// Registered traffic for tests/integration/test_metrics.py, which then
// checks that /metrics counted exactly this. Real clients
// (tests/node/lib/client.mjs: P-521 keys, proofs). Prints one JSON line of
// what it did and what the relay answered.
//
//   node traffic.mjs URL --shards N --pairs P --envelopes E --nobody K --spoof S --pings Q
//
// P pairs, A on shard 0 and B on shard 1 (when N > 1: every envelope
// crosses shards); each A sends E envelopes to its B, then K to a SIG
// nobody holds (RECIPIENT_NOT_AVAILABLE) and S with another `from`
// (FROM_MISMATCH); each client sends Q JSON pings.
import { Client, identityOnShard, newIdentity } from '../node/lib/client.mjs';

const [url, ...rest] = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = rest.indexOf(`--${name}`);
  return Number(i >= 0 ? rest[i + 1] : dflt);
};
const shards = opt('shards', 2);
const pairs = opt('pairs', 2);
const envelopes = opt('envelopes', 10);
const nobody = opt('nobody', 0);
const spoof = opt('spoof', 0);
const pings = opt('pings', 0);

async function main() {
  const clients = [];
  const out = { registered: 0, delivered: 0, accepted: 0, recipient_not_available: 0, from_mismatch: 0, pongs: 0,
    other: [] };
  for (let p = 0; p < pairs; p++) {
    const [ia, ib] = await Promise.all([identityOnShard(0, shards), identityOnShard(shards > 1 ? 1 : 0, shards)]);
    const A = await Client.registered(url, { identity: ia, timeoutMs: 10000 });
    const B = await Client.registered(url, { identity: ib, timeoutMs: 10000 });
    clients.push([A, B]);
    out.registered += 2;
  }
  const stranger = (await newIdentity()).sig;
  for (const [A, B] of clients) {
    let n = 0;
    for (let i = 0; i < envelopes; i++) A.deliver(B.sig, 'abcd', n++);
    for (let i = 0; i < nobody; i++) A.deliver(stranger, 'abcd', n++);
    for (let i = 0; i < spoof; i++) A.deliver(B.sig, 'abcd', n++, { from: B.sig });
    for (let i = 0; i < n; i++) {
      const m = await A.next((x) => x.handler === 'delivered' || x.handler === 'error', 10000);
      if (m.handler === 'delivered') out.delivered++;
      else if (m.error === 'RECIPIENT_NOT_AVAILABLE') out.recipient_not_available++;
      else if (m.error === 'FROM_MISMATCH') out.from_mismatch++;
      else out.other.push(m);
    }
    for (let i = 0; i < envelopes; i++) {
      await B.next((x) => x.handler === 'acceptEnvelop', 10000);
      out.accepted++;
    }
  }
  for (const [A, B] of clients) {
    for (const c of [A, B]) {
      for (let i = 0; i < pings; i++) {
        await c.ping();
        out.pongs++;
      }
    }
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
  // Stay connected until stdin closes: the test scrapes meanwhile.
  process.stdin.resume();
  await new Promise((resolve) => process.stdin.on('end', resolve));
  for (const [A, B] of clients) { A.terminate(); B.terminate(); }
}

main().catch((e) => {
  process.stdout.write(`${JSON.stringify({ error: String(e && e.stack || e) })}\n`);
  process.exit(1);
});
