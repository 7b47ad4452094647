// Registrations per second through the relay (build/reflector or $REFLECTOR).
//
// usage: node bench/probes/register_rate.mjs [--threads 1] [--crypto-threads 1]
//          [--concurrency 64] [--pool 64] [--duration 10] [--warmup 1] [--runs 3]
//
// Each run starts a fresh relay on a free loopback port (--threads T
// --crypto-threads C --log-level warn), then keeps `concurrency` connections
// in flight, each: connect, read register2, send register3, await register4
// VERIFIED, close (clean close handshake, waited for). The load generator's
// own P-521 work is kept out of the way: `pool` client key pairs are made
// once per process, and per run the AES key of each (client, relay key) pair
// is derived once, from the relay key in the first register2; each
// registration then only AES-encrypts its fresh clearText. A key is never in
// use by two connections at once (a free list; pool >= concurrency), so the
// default --on-duplicate replace never fires.
// Counted: registrations whose register4 arrived in [warmup, warmup+duration)
// seconds after the run began; latency = register3 sent -> register4 received.
// Prints per run: registrations/s, p50/p99 latency, the CPU (in cores) of the
// relay's crypto threads, shards and main thread, of this load generator,
// and the machine's idle and steal time over the window; then the medians.
// Bounded: duration + warmup per run, in-flight connections drained with a
// 15 s cap, every wait inside Client has a 5 s timeout; any non-VERIFIED
// answer or error aborts the run.
import fs from 'node:fs';
import { Relay } from '../../tests/node/relay.mjs';
import { Client, newIdentity, wcb } from '../../tests/node/lib/client.mjs';

function args() {
  const a = { threads: 1, cryptoThreads: 1, concurrency: 64, pool: 0, duration: 10, warmup: 1, runs: 3 };
  const names = { '--threads': 'threads', '--crypto-threads': 'cryptoThreads', '--concurrency': 'concurrency',
    '--pool': 'pool', '--duration': 'duration', '--warmup': 'warmup', '--runs': 'runs' };
  const v = process.argv.slice(2);
  for (let i = 0; i < v.length; i += 2) {
    const k = names[v[i]];
    if (!k || v[i + 1] === undefined || !Number.isFinite(Number(v[i + 1]))) {
      console.error(`bad argument ${v[i]}`);
      process.exit(2);
    }
    a[k] = Number(v[i + 1]);
  }
  if (a.pool < a.concurrency) a.pool = a.concurrency;
  return a;
}

// CPU seconds of the relay's threads by role, from /proc: tasks sorted by
// tid are main, then the crypto threads (started first), then the shards;
// io_uring workers (iou-*) are counted apart. Plus this process and the
// machine's idle and steal time.
const HZ = 100;
function cpuSnapshot(pid, cryptoThreads) {
  const tasks = fs.readdirSync(`/proc/${pid}/task`).map(Number).sort((a, b) => a - b).map((tid) => {
    const st = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    const comm = st.slice(st.indexOf('(') + 1, st.lastIndexOf(')'));
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    return { comm, cpu: (Number(f[11]) + Number(f[12])) / HZ };
  });
  const own = tasks.filter((t) => !t.comm.startsWith('iou-'));
  const sum = (xs) => xs.reduce((x, t) => x + t.cpu, 0);
  const cpuLine = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const u = process.cpuUsage();
  return {
    main: sum(own.slice(0, 1)), crypto: sum(own.slice(1, 1 + cryptoThreads)), shards: sum(own.slice(1 + cryptoThreads)),
    iou: sum(tasks.filter((t) => t.comm.startsWith('iou-'))),
    node: (u.user + u.system) / 1e6, idle: (cpuLine[3] + cpuLine[4]) / HZ, steal: cpuLine[7] / HZ,
  };
}

const pct = (sorted, p) => sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : NaN;
const median = (xs) => { const s = [...xs].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };

async function oneRun(a, identities, runNo) {
  const relay = await Relay.start(['--crypto-threads', String(a.cryptoThreads)], { threads: a.threads, logLevel: 'warn' });
  try {
    // The relay key, from one challenge; then one AES key per client key.
    const probe = await Client.connect(relay.url, { identity: identities[0] });
    const serverPem = probe.register2.publicKeyPem;
    await probe.close();
    const serverKey = await wcb.importPublicKeyPem(serverPem);
    const aesKeys = await Promise.all(identities.map((id) => wcb.deriveKey({ privateKey: id.privateKey, publicKey: serverKey })));

    const free = identities.map((_, i) => i);
    const lat = [];
    let counted = 0, total = 0, failure = null;
    const t0 = performance.now();
    const winStart = t0 + a.warmup * 1000, winEnd = winStart + a.duration * 1000;
    let cpu0, cpu1;
    const tA = setTimeout(() => { cpu0 = cpuSnapshot(relay.proc.pid, a.cryptoThreads); }, a.warmup * 1000);
    const tB = setTimeout(() => { cpu1 = cpuSnapshot(relay.proc.pid, a.cryptoThreads); }, (a.warmup + a.duration) * 1000);

    const worker = async () => {
      while (!failure && performance.now() < winEnd) {
        const k = free.pop();
        if (k === undefined) throw new Error('key pool exhausted (pool < concurrency?)');
        let c;
        try {
          c = await Client.connect(relay.url, { identity: identities[k] });
          const t1 = c.register2.t1, t2 = Date.now();
          const clearText = JSON.stringify({ t1, t2, dt: t2 - t1 });
          const box = await wcb.encrypt({ message: wcb.decodeText(clearText), key: aesKeys[k] });
          const sent = performance.now();
          c.send({ handler: 'register3', clearText, cypherText: wcb.encodeHex(box),
            publicKeySig: identities[k].sig, publicKey: identities[k].publicKeyPem });
          const r4 = await c.next((m) => m.handler === 'register4');
          const got = performance.now();
          if (r4.state2 !== 'VERIFIED') throw new Error(`register4 ${JSON.stringify(r4)}`);
          total++;
          if (got >= winStart && got < winEnd) { counted++; lat.push(got - sent); }
          await c.close();
        } catch (e) {
          failure = failure ?? e;
          if (c) c.terminate();
        } finally {
          free.push(k);
        }
      }
    };
    const workers = Array.from({ length: a.concurrency }, worker);
    let capTimer;
    await Promise.race([
      Promise.all(workers),
      new Promise((r) => { capTimer = setTimeout(r, (a.warmup + a.duration + 15) * 1000); }),
    ]);
    clearTimeout(capTimer);
    clearTimeout(tA); clearTimeout(tB);
    if (failure) throw failure;
    // CPU use in the window, in cores (1.0 = one core busy all the time).
    const use = {};
    if (cpu0 && cpu1) for (const k of Object.keys(cpu0)) use[k] = (cpu1[k] - cpu0[k]) / a.duration;
    lat.sort((x, y) => x - y);
    const res = { rate: counted / a.duration, p50: pct(lat, 0.5), p99: pct(lat, 0.99), counted, total, use };
    console.log(`run ${runNo}: ${res.rate.toFixed(1)} reg/s (${counted} in ${a.duration} s window, ${total} total), ` +
      `register3->register4 p50 ${res.p50.toFixed(1)} ms p99 ${res.p99.toFixed(1)} ms`);
    if (use.crypto !== undefined) {
      console.log(`    CPU in cores: relay crypto ${use.crypto.toFixed(2)} (${(1000 * use.crypto / res.rate).toFixed(2)} ms/reg), ` +
        `shards ${use.shards.toFixed(2)}, main ${use.main.toFixed(2)}, io-wq ${use.iou.toFixed(2)}; ` +
        `load generator ${use.node.toFixed(2)}; machine idle ${use.idle.toFixed(2)}, steal ${use.steal.toFixed(2)}`);
    }
    return res;
  } finally {
    await relay.stop('SIGTERM', 15000).catch((e) => console.error(`relay stop: ${e.message.slice(0, 500)}`));
  }
}

async function main() {
  const a = args();
  console.log(`register_rate: --threads ${a.threads} --crypto-threads ${a.cryptoThreads}, ` +
    `concurrency ${a.concurrency}, key pool ${a.pool}, ${a.runs} x (${a.warmup} s warm-up + ${a.duration} s)`);
  const identities = [];
  for (let i = 0; i < a.pool; i++) identities.push(await newIdentity());
  const runs = [];
  for (let r = 1; r <= a.runs; r++) runs.push(await oneRun(a, identities, r));
  console.log(`median: ${median(runs.map((x) => x.rate)).toFixed(1)} reg/s, ` +
    `p50 ${median(runs.map((x) => x.p50)).toFixed(1)} ms, p99 ${median(runs.map((x) => x.p99)).toFixed(1)} ms ` +
    `[runs: ${runs.map((x) => x.rate.toFixed(1)).join(', ')}]`);
}

main().then(() => process.exit(0), (e) => { console.error(e.stack || String(e)); process.exit(1); });
