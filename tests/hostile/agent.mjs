// Hostile cases that need registered clients (real P-521 keys, through
// tests/node/lib/client.mjs), run by the Python cases in this folder.
// Prints one JSON line: {"event":"result",...} or {"event":"error","what":...}.
//
//   node agent.mjs MODE URL [--shards N] [options]
//   spoof        A, registered, sends envelopes whose `from` is B's SIG or
//                another well-formed SIG: each must get FROM_MISMATCH (with
//                to and id echoed) and reach nobody. --count N
//   takeover     --rounds R, each: K connections with one key pair register
//                at the same moment (--k K). Reports what each saw and who,
//                afterwards, receives an envelope sent to that SIG.
//   slow-reader  R registers and stops reading; S floods R (paced under the
//                rate limit) until R is dropped. --max-seconds S
//   register     registers --count fresh clients one after another, one
//                each --every MS (default: at once), from --local-address
//                when given, and reports how long each took.
//   burst        --clients K registered on shard 0, each fires --count
//                envelopes at once at SIGs owned by shard 1 that nobody
//                holds, then reads every answer; reports the answers by code.
import { Client, identityOnShard, newIdentity, makeRegister3, sleep } from '../node/lib/client.mjs';

const [mode, url, ...rest] = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = rest.indexOf(`--${name}`);
  return i >= 0 ? rest[i + 1] : dflt;
};
const shards = Number(opt('shards', 2));
const emit = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);
const TIMEOUT_MS = 10000;

// Everything a client is sent, in order, for checking afterwards.
function record(c) {
  c.seen = [];
  c.ws.on('message', (data) => {
    try { c.seen.push(JSON.parse(data.toString('utf8'))); } catch { c.seen.push({ unparsable: true }); }
  });
  return c;
}

async function spoof() {
  const count = Number(opt('count', 200));
  const [A, B, C] = await Promise.all([
    Client.registered(url, { identity: await identityOnShard(0, shards) }),
    Client.registered(url, { identity: await identityOnShard(shards > 1 ? 1 : 0, shards) }),
    Client.registered(url),
  ]);
  [B, C].forEach(record);
  const other = (await newIdentity()).sig; // well formed, registered by nobody
  const box = 'ab'.repeat(32);
  const answers = [];
  for (let i = 0; i < count; i++) {
    const from = i % 3 === 0 ? other : i % 3 === 1 ? B.sig : C.sig;
    const to = i % 2 ? C.sig : B.sig;
    A.send({ handler: 'deliverEnvelop', from, to, box, id: i });
    if (i % 50 === 49) await sleep(5); // stay under the rate limit
  }
  const answer = (m) => m.handler === 'error' || m.handler === 'delivered';
  for (let i = 0; i < count; i++) answers.push(await A.next(answer, TIMEOUT_MS));
  const wrong = answers.filter((m, i) => m.handler !== 'error' || m.error !== 'FROM_MISMATCH'
    || m.id !== i || m.to !== (i % 2 ? C.sig : B.sig));
  await sleep(300);
  const leaked = [...B.seen, ...C.seen].filter((m) => m.handler === 'acceptEnvelop').length;
  // A is still open and its own envelopes still go through.
  A.deliver(C.sig, box, 'real');
  const ack = await A.next((m) => m.id === 'real', TIMEOUT_MS);
  const got = await C.next((m) => m.handler === 'acceptEnvelop', TIMEOUT_MS);
  await Promise.all([A.close(), B.close(), C.close()]);
  emit({ event: 'result', count, fromMismatch: answers.length - wrong.length, wrong: wrong.slice(0, 3), leaked,
    realAck: ack.handler, realFrom: got.from === A.sig });
}

async function takeover() {
  const rounds = Number(opt('rounds', 10));
  const k = Number(opt('k', 8));
  const witness = await Client.registered(url);
  const report = [];
  for (let r = 0; r < rounds; r++) {
    const identity = await newIdentity();
    const conns = await Promise.all(Array.from({ length: k }, () => Client.connect(url, { identity })));
    conns.forEach(record);
    // Proofs made first, then sent in one go: they reach the crypto pool together.
    const proofs = await Promise.all(conns.map((c) => makeRegister3(identity, c.register2)));
    conns.forEach((c, i) => c.send(proofs[i]));
    await Promise.all(conns.map((c) => c.next((m) => m.handler === 'register4', TIMEOUT_MS)));
    // Let the takeovers (REPLACED, close) land.
    const until = Date.now() + 3000;
    const settled = () => conns.filter((c) => !c.closeInfo).length <= 1;
    while (!settled() && Date.now() < until) await sleep(20);
    await sleep(200);
    const open = conns.filter((c) => !c.closeInfo);
    // An envelope to the SIG reaches exactly the open one.
    witness.deliver(identity.sig, 'cafe', `r${r}`);
    const ack = await witness.next((m) => m.id === `r${r}`, TIMEOUT_MS);
    await sleep(300);
    const receivers = conns.filter((c) => c.seen.some((m) => m.handler === 'acceptEnvelop' && m.id === `r${r}`));
    report.push({
      verified: conns.filter((c) => c.seen.some((m) => m.handler === 'register4' && m.state2 === 'VERIFIED')).length,
      sigInUse: conns.filter((c) => c.seen.some((m) => m.handler === 'register4' && m.error === 'SIG_IN_USE')).length,
      replaced: conns.filter((c) => c.seen.some((m) => m.handler === 'error' && m.error === 'REPLACED')).length,
      closeCodes: conns.filter((c) => c.closeInfo).map((c) => c.closeInfo.code).sort(),
      open: open.length,
      ack: ack.handler === 'error' ? ack.error : ack.handler,
      receivers: receivers.length,
      receiverIsOpen: receivers.length === 1 && !receivers[0].closeInfo,
    });
    await Promise.all(conns.map((c) => c.close(2000)));
  }
  await witness.close();
  emit({ event: 'result', rounds: report });
}

async function slowReader() {
  const maxMs = Number(opt('max-seconds', 30)) * 1000;
  const S = await Client.registered(url, { identity: await identityOnShard(0, shards) });
  const R = await Client.registered(url, { identity: await identityOnShard(shards > 1 ? 1 : 0, shards) });
  R.ws._socket.pause();
  const box = 'ab'.repeat(1800); // a 3.6 KB envelope
  const start = Date.now();
  let sent = 0;
  let delivered = 0;
  let backlogged = 0;
  let firstBackloggedMs = null;
  let droppedMs = null;
  const other = [];
  while (droppedMs === null && Date.now() - start < maxMs && sent < 200000) {
    for (let i = 0; i < 40; i++) S.deliver(R.sig, box, sent++);
    await sleep(50); // 800/s: under the default --rate 1000
    for (let e = S.queue.shift(); e; e = S.queue.shift()) {
      const m = e.msg;
      if (m.handler === 'delivered') delivered++;
      else if (m.error === 'RECIPIENT_BACKLOGGED') {
        backlogged++;
        if (firstBackloggedMs === null) firstBackloggedMs = Date.now() - start;
      } else if (m.error === 'RECIPIENT_NOT_AVAILABLE') {
        if (droppedMs === null) droppedMs = Date.now() - start;
      } else other.push(e.text.slice(0, 200));
    }
  }
  // The recipient, reading again, drains what reached it and sees the end.
  R.ws._socket.resume();
  let recipientClose = null;
  try { recipientClose = (await R.waitClosed(20000)).code; } catch { recipientClose = 'still open'; }
  const { rttMs } = await S.ping('after');
  await S.close();
  emit({ event: 'result', sent, delivered, backlogged, firstBackloggedMs, droppedMs, other: other.slice(0, 3),
    recipientClose, senderPingMs: rttMs });
}

async function register() {
  const count = Number(opt('count', 5));
  const every = Number(opt('every', 0));
  const localAddress = opt('local-address', undefined);
  const wsOptions = localAddress ? { localAddress } : {};
  const times = [];
  const identities = await Promise.all(Array.from({ length: count }, () => newIdentity()));
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    const c = await Client.registered(url, { identity: identities[i], wsOptions, timeoutMs: 15000, registerTimeoutMs: 15000 });
    times.push(Math.round(performance.now() - started));
    await c.close();
    const rest = every - (performance.now() - started);
    if (rest > 0) await sleep(rest);
  }
  emit({ event: 'result', times });
}

async function burst() {
  const clients = Number(opt('clients', 100));
  const count = Number(opt('count', 2000));
  const ids = [];
  for (let i = 0; i < clients; i++) ids.push(await identityOnShard(0, shards));
  const senders = [];
  for (let i = 0; i < clients; i += 20)
    senders.push(...await Promise.all(ids.slice(i, i + 20).map((identity) => Client.registered(url, { identity, timeoutMs: 15000 }))));
  const targets = [];
  for (let i = 0; i < 16; i++) targets.push((await identityOnShard(1 % shards, shards)).sig);
  emit({ event: 'registered', clients });
  const box = 'ab'.repeat(32);
  const codes = {};
  await Promise.all(senders.map(async (c, k) => {
    for (let i = 0; i < count; i++) c.deliver(targets[(k + i) % targets.length], box, i);
    for (let i = 0; i < count; i++) {
      const m = await c.next((x) => x.handler === 'error' || x.handler === 'delivered', 60000);
      const code = m.error ?? m.handler;
      codes[code] = (codes[code] ?? 0) + 1;
    }
  }));
  emit({ event: 'answered', codes });
  await sleep(Number(opt('hold-ms', 0)));
  await Promise.all(senders.map((c) => c.close()));
  emit({ event: 'result', codes });
}

const modes = { spoof, takeover, 'slow-reader': slowReader, register, burst };
if (!modes[mode]) {
  emit({ event: 'error', what: `unknown mode ${mode}` });
  process.exit(2);
}
const guard = setTimeout(() => {
  emit({ event: 'error', what: `${mode}: overall timeout` });
  process.exit(1);
}, 170000);
modes[mode]().then(() => { clearTimeout(guard); process.exit(0); }, (e) => {
  emit({ event: 'error', what: `${mode}: ${e.stack || e.message}` });
  process.exit(1);
});
