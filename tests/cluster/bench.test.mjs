// reflector-bench --url2: the second client of every pair on another node,
// so that every envelope crosses the bus; and its refusals.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, binary } from '../node/relay.mjs';
import { startNatsCluster, startNode, busUp } from './lib/cluster.mjs';

const BENCH = path.join(ROOT, 'build', 'reflector-bench');
let nats;
let dir;
let key;
before(async () => {
  nats = await startNatsCluster(3);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reflector-bench-url2-'));
  key = path.join(dir, 'key.pem');
  execFileSync(binary(), ['keygen', key], { stdio: 'pipe' });
});
after(async () => {
  await nats.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

function bench(args) {
  return new Promise((resolve) => {
    execFile(BENCH, args, { timeout: 120000 }, (err, stdout, stderr) => {
      resolve({ code: err ? err.code : 0, stdout, stderr });
    });
  });
}

test('reflector-bench --url2: every envelope crosses nodes, none lost', async () => {
  const common = ['--key', key, '--rate', '1000000'];
  const a = await startNode(nats, 0, { args: common, nodeId: 'ba' });
  const b = await startNode(nats, 1, { args: common, nodeId: 'bb' });
  try {
    await Promise.all([busUp(a), busUp(b)]);
    const json = path.join(dir, 'out.json');
    const r = await bench(['route', '--url', a.url, '--url2', b.url, '--clients', '20', '--duration', '1',
      '--warmup', '0.5', '--window', '4', '--pid', `${a.proc.pid},${b.proc.pid}`, '--json', json, '--quiet',
      '--strict', '--keys', path.join(dir, 'keys.txt')]);
    assert.equal(r.code, 0, r.stderr);
    const [res] = JSON.parse(fs.readFileSync(json, 'utf8'));
    assert.ok(res.msgs_per_s > 0, JSON.stringify(res).slice(0, 300));
    assert.equal(res.error_count, 0);
    assert.ok(res.cpu_us_per_envelope > 0);
  } finally {
    await a.stop();
    await b.stop();
  }
  // Each node received envelopes over the bus (its counters at exit).
  for (const n of [a, b]) {
    const m = n.out.match(/bus_received=(\d+)/);
    assert.ok(m && +m[1] > 100, `no envelopes over the bus: ${n.out.split('\n').filter((l) => l.includes('totals')).join('')}`);
  }
});

test('reflector-bench --url2: refused for nodes with different server keys, and for wss://', async () => {
  const a = await startNode(nats, 0, { nodeId: 'ka' });
  const b = await startNode(nats, 1, { nodeId: 'kb' });
  try {
    const r = await bench(['route', '--url', a.url, '--url2', b.url, '--clients', '4', '--duration', '1',
      '--quiet', '--keys', path.join(dir, 'keys2.txt')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /different server keys/);
  } finally {
    await a.stop();
    await b.stop();
  }
  const w = await bench(['route', '--url', 'ws://127.0.0.1:1/', '--url2', 'wss://127.0.0.1:2/']);
  assert.equal(w.code, 2);
  assert.match(w.stderr, /url2/);
  const p = await bench(['route', '--url', 'ws://127.0.0.1:1/', '--url2', 'ws://127.0.0.1:2/', '--pattern', 'random']);
  assert.equal(p.code, 2);
  assert.match(p.stderr, /url2/);
});
