// build/reflector-bench against the real relay on loopback: the relay
// started with the flags a load test needs (tests/node/relay.mjs, or on
// [::1] here), the bench run with a deadline, its exit status, output,
// JSON results and CSV time series read back.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ROOT, Relay, binary, freePort } from '../../node/relay.mjs';

export const BENCH = process.env.REFLECTOR_BENCH || path.join(ROOT, 'build', 'reflector-bench');
// The relay's key: the same one every run, so the bench's ECDH cache
// (build/bench/) saves it the P-521 work; made once, as `make bench` does.
export const SERVER_KEY = path.join(ROOT, 'build', 'bench', 'server.pem');
// Every bench client comes from one address, and the per-sender rate
// limit would refuse benchmark traffic.
export const RELAY_FLAGS = ['--key', SERVER_KEY, '--rate', '1000000', '--max-registrations-per-ip', '0',
  '--registration-rate-per-ip', '0', '--ping-interval', '120'];
// A short measured window: the tests check behaviour, not speed.
export const SHORT = ['--duration', '1', '--warmup', '0.2'];

export function ensureServerKey() {
  if (fs.existsSync(SERVER_KEY)) return;
  fs.mkdirSync(path.dirname(SERVER_KEY), { recursive: true });
  const r = spawnSync(binary(), ['keygen', SERVER_KEY], { encoding: 'utf8', timeout: 30000 });
  if (r.status !== 0) throw new Error(`reflector keygen: ${r.stderr}`);
}

// A key cache per test file: files running side by side never write the
// same one.
export function keysFor(name) {
  return path.join(ROOT, 'build', 'bench', `test-${name}.keys`);
}

export function tmpdir(name) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `reflector-bench-${name}-`));
}

export async function startRelay(extra = []) {
  ensureServerKey();
  return Relay.start([...RELAY_FLAGS, ...extra], { threads: 2 });
}

function canConnect(host, port) {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (ok) => { clearTimeout(t); s.destroy(); resolve(ok); };
    const t = setTimeout(() => done(false), 500);
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

// The relay on [::1] only (tests/node/relay.mjs listens on 127.0.0.1).
export async function startRelay6(extra = []) {
  ensureServerKey();
  const port = await freePort();
  const proc = spawn(binary(), ['--listen', `[::1]:${port}`, '--threads', '2', '--log-level', 'warn',
    ...RELAY_FLAGS, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  const relay = new Relay(proc, port);
  const deadline = Date.now() + 10000;
  while (!(await canConnect('::1', port))) {
    if (relay.exitCode !== undefined) throw new Error(`relay on [::1] exited: ${relay.out}`);
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`relay on [::1] did not listen: ${relay.out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return relay;
}

// Runs the bench; resolves with { code, stdout, stderr }. Killed (and
// rejected) after timeoutMs.
export function bench(args, { timeoutMs = 30000, shell = null, env = {} } = {}) {
  return new Promise((resolve, reject) => {
    const [cmd, argv] = shell ? ['bash', ['-c', shell, 'bench', BENCH, ...args]] : [BENCH, args];
    const p = spawn(cmd, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    const t = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`reflector-bench ${args.join(' ')}: no exit in ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    p.once('error', (e) => { clearTimeout(t); reject(e); });
    p.once('exit', (code, signal) => {
      clearTimeout(t);
      resolve({ code: code ?? signal, stdout, stderr });
    });
  });
}

// A run that must succeed: its results (the --json array) and its series
// (the --timeseries CSV, one object per row).
export async function benchOk(args, dir, opts) {
  const json = path.join(dir, `r${Math.random().toString(36).slice(2)}.json`);
  const csv = json.replace(/\.json$/, '.csv');
  const r = await bench([...args, '--json', json, '--timeseries', csv], opts);
  if (r.code !== 0) throw new Error(`reflector-bench ${args.join(' ')} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
  return { ...r, json, csv, results: JSON.parse(fs.readFileSync(json, 'utf8')), rows: readCsv(csv) };
}

export function readCsv(file) {
  const [head, ...lines] = fs.readFileSync(file, 'utf8').trim().split('\n');
  const keys = head.split(',');
  return lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [keys[i], i === 0 ? v : v === '' ? null : Number(v)])));
}
