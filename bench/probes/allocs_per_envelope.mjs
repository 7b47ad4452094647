// Heap allocations per routed envelope in the relay's steady state.
//
// usage: node bench/probes/allocs_per_envelope.mjs [--n 20000] [--warmup 2000]
//          [--runs 3] [--box-bytes 128] [--window 250] [--one-way 1]
//   (builds build/malloc_count.so from bench/probes/malloc_count.c when missing or
//   older; the relay is build/reflector or $REFLECTOR)
//
// Each run starts a fresh relay under the LD_PRELOAD counter
// (bench/probes/malloc_count.c, MALLOC_COUNT_SITES=1) with --threads 2 --rate 1000000,
// registers two pairs with the Node test client: a same-shard pair (both SIGs
// owned by shard 0) and a cross-shard pair (owners 0 and 1), and for each
// pair, without and with "id" (delivered acks):
//   warm-up: `warmup` envelopes each way;
//   SIGUSR2 -> count c1; `n` envelopes (n/2 each way); SIGUSR2 -> c2;
//   allocations per envelope = (c2 - c1) / n.
// With --one-way 1 (default) also the cross-shard pair sending one way only
// (n envelopes x -> y, the same warm-up), without and with "id".
// Also an idle baseline: two dumps around a pause as long as the last case,
// to separate the relay's background allocations (ticks, pings) from the
// envelopes'. Envelopes go in windows of `window` each way, the next window
// only when the previous has been received (and acked), so no queue limit
// is reached. Per case, the call sites behind the allocations (if any) are
// listed, resolved through /proc/PID/maps and addr2line.
// Bounded: every wait has a timeout (10 s per window), n and runs are counts.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Relay, ROOT } from '../../tests/node/relay.mjs';
import { Client, identityOnShard, ownerShard, sleep } from '../../tests/node/lib/client.mjs';

function args() {
  const a = { n: 20000, warmup: 2000, runs: 3, boxBytes: 128, window: 250, oneWay: 1 };
  const names = { '--n': 'n', '--warmup': 'warmup', '--runs': 'runs', '--box-bytes': 'boxBytes', '--window': 'window', '--one-way': 'oneWay' };
  const v = process.argv.slice(2);
  for (let i = 0; i < v.length; i += 2) {
    const k = names[v[i]];
    if (!k || !Number.isInteger(Number(v[i + 1])) || Number(v[i + 1]) < (k === 'oneWay' ? 0 : 1)) {
      console.error(`bad argument ${v[i]}`);
      process.exit(2);
    }
    a[k] = Number(v[i + 1]);
  }
  a.n -= a.n % 2;
  return a;
}

const SHIM = path.join(ROOT, 'build', 'malloc_count.so');
function buildShim() {
  const src = path.join(ROOT, 'bench', 'probes', 'malloc_count.c');
  if (!fs.existsSync(SHIM) || fs.statSync(SHIM).mtimeMs < fs.statSync(src).mtimeMs) {
    execFileSync('cc', ['-O2', '-g', '-shared', '-fPIC', '-o', SHIM, src, '-ldl'], { stdio: 'inherit' });
  }
}

// SIGUSR2, then the dump that follows in the relay's output: { total, sites: Map }.
async function snapshot(relay) {
  const from = relay.out.length;
  relay.proc.kill('SIGUSR2');
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    const text = relay.out.slice(from);
    const end = text.indexOf('malloc_count end\n');
    if (end >= 0) {
      const dump = text.slice(text.indexOf('malloc_count: '), end);
      const total = Number(/total=(\d+)/.exec(dump)[1]);
      const frees = Number(/free=(\d+)/.exec(dump)[1]);
      const sites = new Map();
      for (const m of dump.matchAll(/malloc_count site (0x[0-9a-f]+) (\d+)/g)) sites.set(m[1], Number(m[2]));
      return { total, frees, line: dump.split('\n')[0], sites };
    }
    await sleep(5);
  }
  throw new Error('no malloc_count dump within 5 s after SIGUSR2');
}

function siteDiff(a, b) {
  const out = [];
  for (const [addr, n] of b.sites) {
    const d = n - (a.sites.get(addr) ?? 0);
    if (d > 0) out.push([addr, d]);
  }
  return out.sort((x, y) => y[1] - x[1]);
}

// addr -> "function file:line (module)" via /proc/PID/maps and addr2line.
function resolver(pid) {
  const maps = fs.readFileSync(`/proc/${pid}/maps`, 'utf8').trim().split('\n').map((l) => {
    const [range, perms, off, , , file] = l.split(/\s+/);
    const [lo, hi] = range.split('-').map((h) => BigInt(`0x${h}`));
    return { lo, hi, off: BigInt(`0x${off}`), file };
  });
  const cache = new Map();
  return (addr) => {
    if (cache.has(addr)) return cache.get(addr);
    const a = BigInt(addr);
    const m = maps.find((x) => a >= x.lo && a < x.hi && x.file && x.file.startsWith('/'));
    let s = `${addr} (unmapped)`;
    if (m) {
      // File offset of the (return) address; addr2line reads it as a VMA,
      // which matches for PIE/shared objects whose text segment maps at
      // p_vaddr == p_offset (true for these gcc/ld builds). -1: the call
      // instruction itself, not the one after it.
      const rel = a - m.lo + m.off - 1n;
      try {
        const r = execFileSync('addr2line', ['-f', '-C', '-i', '-e', m.file, `0x${rel.toString(16)}`], { encoding: 'utf8', timeout: 5000 })
          .trim().split('\n');
        const frames = [];
        for (let i = 0; i + 1 < r.length; i += 2) frames.push(`${r[i]} ${r[i + 1].replace(`${ROOT}/`, '')}`);
        s = `${frames.join(' <- inlined in ')} [${path.basename(m.file)}]`;
      } catch {
        s = `${path.basename(m.file)}+0x${rel.toString(16)}`;
      }
    }
    cache.set(addr, s);
    return s;
  };
}

const counters = (c) => {
  c.accepted = 0; c.delivered = 0; c.errors = [];
  c.ws.on('message', (data) => {
    const t = data.toString();
    if (t.startsWith('{"handler":"acceptEnvelop"')) c.accepted++;
    else if (t.startsWith('{"handler":"delivered"')) c.delivered++;
    else if (!t.includes('"handler":"register') && !t.includes('"handler":"pong"')) c.errors.push(t.slice(0, 200));
  });
};

async function waitFor(pred, ms, what) {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timeout waiting for ${what}`);
    await sleep(1);
  }
}

// `count` envelopes each way between x and y (x -> y only when oneWay), in windows.
async function exchange(x, y, count, withId, a, box, oneWay = false) {
  let id = 0;
  for (let done = 0; done < count;) {
    const w = Math.min(a.window, count - done);
    const [xa, ya, xd, yd] = [x.accepted, y.accepted, x.delivered, y.delivered];
    for (let i = 0; i < w; i++) {
      const ex = { handler: 'deliverEnvelop', from: x.sig, to: y.sig, box };
      const ey = { handler: 'deliverEnvelop', from: y.sig, to: x.sig, box };
      if (withId) { ex.id = ++id; ey.id = `s${id}`; }
      x.ws.send(JSON.stringify(ex));
      if (!oneWay) y.ws.send(JSON.stringify(ey));
    }
    const back = oneWay ? 0 : w;
    await waitFor(() => x.accepted - xa >= back && y.accepted - ya >= w &&
      (!withId || (x.delivered - xd >= w && y.delivered - yd >= back)), 10000, 'a window of envelopes');
    if (x.errors.length || y.errors.length) throw new Error(`relay errors: ${[...x.errors, ...y.errors].slice(0, 3).join(' | ')}`);
    x.queue.length = 0; y.queue.length = 0; // Client keeps unclaimed messages; we count them instead
    done += w;
  }
}

async function oneRun(a, ids, runNo) {
  const prevPreload = process.env.LD_PRELOAD;
  process.env.LD_PRELOAD = SHIM;
  process.env.MALLOC_COUNT_SITES = '1';
  let relay;
  try {
    relay = await Relay.start(['--rate', '1000000'], { threads: 2, logLevel: 'warn' });
  } finally {
    if (prevPreload === undefined) delete process.env.LD_PRELOAD; else process.env.LD_PRELOAD = prevPreload;
    delete process.env.MALLOC_COUNT_SITES;
  }
  const resolve = resolver(relay.proc.pid);
  const results = {};
  const box = 'ab'.repeat(a.boxBytes);
  const clients = [];
  try {
    const reg = async (id) => { const c = await Client.registered(relay.url, { identity: id }); counters(c); clients.push(c); return c; };
    const pairs = {
      'same-shard': [await reg(ids.s0a), await reg(ids.s0b)],
      'cross-shard': [await reg(ids.s0c), await reg(ids.s1)],
    };
    let lastMs = 1000;
    const cases = [];
    for (const pairName of Object.keys(pairs)) for (const withId of [false, true]) cases.push([pairName, withId, false]);
    // One way only (x -> y): the sender's shard allocates every chunk, the
    // recipient's shard gets them back (a cross-shard frame is one pooled chunk).
    if (a.oneWay) for (const withId of [false, true]) cases.push(['cross-shard one-way', withId, true]);
    for (const [pairName, withId, oneWay] of cases) {
      const [x, y] = pairs[pairName.replace(' one-way', '')];
      {
        const name = `${pairName}${withId ? ' +id' : ''}`;
        const per = oneWay ? a.n : a.n / 2;
        await exchange(x, y, a.warmup, withId, a, box, oneWay);
        const c1 = await snapshot(relay);
        const t = performance.now();
        await exchange(x, y, per, withId, a, box, oneWay);
        lastMs = performance.now() - t;
        const c2 = await snapshot(relay);
        results[name] = { per: (c2.total - c1.total) / a.n, freesPer: (c2.frees - c1.frees) / a.n, sites: siteDiff(c1, c2) };
      }
    }
    // Idle baseline over the same wall time as the last case.
    const i1 = await snapshot(relay);
    await sleep(Math.min(lastMs, 20000));
    const i2 = await snapshot(relay);
    results.idle = { abs: i2.total - i1.total, ms: lastMs, sites: siteDiff(i1, i2) };
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await relay.stop('SIGTERM', 15000).catch((e) => console.error(`relay stop: ${e.message.slice(0, 300)}`));
  }
  const parts = Object.entries(results).filter(([k]) => k !== 'idle').map(([k, r]) => `${k} ${r.per.toFixed(4)} (frees ${r.freesPer.toFixed(4)})`);
  console.log(`run ${runNo}: allocations per envelope: ${parts.join(', ')}; idle ${results.idle.abs} in ${results.idle.ms.toFixed(0)} ms`);
  for (const [k, r] of Object.entries(results)) {
    for (const [addr, d] of r.sites.slice(0, 8)) console.log(`    ${k}: ${d} x ${resolve(addr)}`);
  }
  return results;
}

async function main() {
  const a = args();
  buildShim();
  console.log(`allocs_per_envelope: --threads 2 --rate 1000000, warm-up ${a.warmup} each way, n=${a.n} (${a.n / 2} each way), ` +
    `box ${a.boxBytes} bytes, window ${a.window}, ${a.runs} runs`);
  const ids = { s0a: await identityOnShard(0, 2), s0b: await identityOnShard(0, 2), s0c: await identityOnShard(0, 2), s1: await identityOnShard(1, 2) };
  if (ownerShard(ids.s1.sig, 2) !== 1 || ownerShard(ids.s0a.sig, 2) !== 0) throw new Error('shard pick failed');
  const runs = [];
  for (let r = 1; r <= a.runs; r++) runs.push(await oneRun(a, ids, r));
  for (const k of Object.keys(runs[0]).filter((x) => x !== 'idle')) {
    const v = runs.map((r) => r[k].per).sort((x, y) => x - y);
    console.log(`median ${k}: ${v[Math.floor(v.length / 2)].toFixed(4)} allocations/envelope [runs: ${runs.map((r) => r[k].per.toFixed(4)).join(', ')}]`);
  }
}

main().then(() => process.exit(0), (e) => { console.error(e.stack || String(e)); process.exit(1); });
