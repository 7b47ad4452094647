// A well-behaved registered pair, run beside a hostile case: two clients
// registered with real P-521 keys (webcryptobox, tests/node/lib/client.mjs),
// on different shards, exchanging encrypted envelopes both ways at a steady
// pace. One JSON line per event on stdout:
//   {"event":"ready","a":SIG,"b":SIG}
//   {"event":"rtt","n":N,"ms":T}        an envelope arrived (decrypted and
//                                       checked), T ms after it was sent
//   {"event":"error","what":...}        anything unexpected (a lost or
//                                       corrupted envelope, an error reply,
//                                       a close)
// It stops when stdin closes, on SIGTERM, or after --max-seconds, and then
// prints {"event":"done","sent":S,"received":R}.
//
// Usage: node pair.mjs URL [--interval-ms 50] [--max-seconds 300]
//                          [--local-address 127.0.0.9] [--shards 2]
import { Client, identityOnShard } from '../node/lib/client.mjs';

const args = process.argv.slice(2);
const url = args[0];
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const intervalMs = Number(opt('interval-ms', 50));
const maxSeconds = Number(opt('max-seconds', 300));
const localAddress = opt('local-address', undefined);
const shards = Number(opt('shards', 2));
// An envelope not seen within this long counts as lost.
const LOST_MS = 5000;

const emit = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);
const wsOptions = localAddress ? { localAddress } : {};

let stopping = false;
let sent = 0;
let received = 0;
const pending = new Map(); // n -> { sentAt, text, to }

async function main() {
  const [idA, idB] = await Promise.all([
    identityOnShard(0, shards), identityOnShard(shards > 1 ? 1 : 0, shards)]);
  const A = await Client.registered(url, { identity: idA, wsOptions, timeoutMs: 10000 });
  const B = await Client.registered(url, { identity: idB, wsOptions, timeoutMs: 10000 });
  const peers = [[A, B], [B, A]];
  for (const [me, other] of peers) {
    me.ws.on('close', (code) => {
      if (!stopping) emit({ event: 'error', what: `${me === A ? 'a' : 'b'} closed ${code}` });
    });
    me.ws.on('message', async (data) => {
      let msg;
      try { msg = JSON.parse(data.toString('utf8')); } catch { msg = null; }
      if (!msg) { emit({ event: 'error', what: 'unparsable message' }); return; }
      if (msg.handler === 'delivered') return;
      if (msg.handler !== 'acceptEnvelop') {
        emit({ event: 'error', what: `unexpected ${JSON.stringify(msg).slice(0, 200)}` });
        return;
      }
      const at = performance.now();
      const p = pending.get(msg.id);
      if (!p || msg.from !== other.sig || msg.to !== me.sig) {
        emit({ event: 'error', what: `unexpected envelope ${JSON.stringify(msg).slice(0, 200)}` });
        return;
      }
      pending.delete(msg.id);
      try {
        const text = await me.decryptFrom(other.publicKeyPem, msg.box);
        if (text !== p.text) throw new Error('plaintext differs');
      } catch (e) {
        emit({ event: 'error', what: `envelope ${msg.id}: ${e.message}` });
        return;
      }
      received++;
      emit({ event: 'rtt', n: msg.id, ms: Math.round((at - p.sentAt) * 100) / 100 });
    });
  }
  // The test's own clients drain what they queued for register etc.
  A.queue.length = 0;
  B.queue.length = 0;
  emit({ event: 'ready', a: A.sig, b: B.sig });

  const deadline = Date.now() + maxSeconds * 1000;
  while (!stopping && Date.now() < deadline) {
    const n = sent++;
    const [me, other] = peers[n % 2];
    const text = JSON.stringify({ n, from: n % 2 ? 'b' : 'a', pad: 'x'.repeat(n % 200) });
    const box = await me.encryptTo(other.publicKeyPem, text);
    pending.set(n, { sentAt: performance.now(), text });
    me.deliver(other.sig, box, n);
    // Client keeps what no waiter took; this pair reads through its own listener.
    A.queue.length = 0;
    B.queue.length = 0;
    for (const [k, p] of pending) {
      if (performance.now() - p.sentAt > LOST_MS) {
        emit({ event: 'error', what: `envelope ${k} not delivered within ${LOST_MS} ms` });
        pending.delete(k);
      }
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  stopping = true;
  // Give the last envelopes a moment, then leave cleanly.
  const until = Date.now() + 2000;
  while (pending.size && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  emit({ event: 'done', sent, received, pending: pending.size });
  await Promise.all([A.close(1000), B.close(1000)]);
  process.exit(0);
}

process.stdin.on('end', () => { stopping = true; });
process.stdin.on('close', () => { stopping = true; });
process.stdin.resume();
process.on('SIGTERM', () => { stopping = true; });
main().catch((e) => {
  emit({ event: 'error', what: `pair failed: ${e.message}` });
  process.exit(1);
});
