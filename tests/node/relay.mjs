// Starts the real relay binary on a free loopback port, like tests/lib/relayproc.py.
// The binary is $REFLECTOR (default build/reflector), so the same tests run
// against the plain, ASan and TSan builds.
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestCA } from './lib/testca.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const HOST = '127.0.0.1';

export function binary() {
  return process.env.REFLECTOR || path.join(ROOT, 'build', 'reflector');
}

// Flags every relay of a run gets, before the test's own (which win):
// tests/run.sh runs the suites again with RELAY_ARGS="--io epoll".
// Split on spaces; no flag a suite passes this way needs quoting.
export function extraArgs() {
  return (process.env.RELAY_ARGS || '').split(/\s+/).filter(Boolean);
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, HOST, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: HOST, port });
    const done = (ok) => { clearTimeout(t); s.destroy(); resolve(ok); };
    const t = setTimeout(() => done(false), 500);
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The run's CA and a server certificate, made once; clients trust it
// through TEST_TLS_CA (tests/node/lib/client.mjs reads it).
let runCA = null;
export function tlsCA() {
  if (!runCA) {
    const ca = new TestCA();
    runCA = { ca, server: ca.issue('server') };
    process.env.TEST_TLS_CA = ca.caFile;
    process.once('exit', () => ca.cleanup());
  }
  return runCA;
}

export class Relay {
  constructor(proc, port, tls = null) {
    this.proc = proc;
    this.tls = tls;
    this.port = port;
    this.host = HOST;
    this.out = '';
    this.exitCode = undefined;
    this.signal = undefined;
    this.exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        this.exitCode = code;
        this.signal = signal;
        resolve({ code, signal });
      });
    });
    proc.stdout.on('data', (d) => { this.out += d; });
    proc.stderr.on('data', (d) => { this.out += d; });
  }

  // wss:// to localhost (the name its certificate has) when it speaks TLS.
  get url() { return this.tls ? `wss://localhost:${this.port}/` : `ws://${HOST}:${this.port}/`; }

  // Start a relay and wait until it listens. Extra CLI args come first in
  // `args`; `threads` and `logLevel` as in relayproc.py; `port` to restart
  // one on the port it had (default: a free one).
  // `tls`: { cert, key } files for --tls-cert and --tls-key; with
  // TEST_OVER_TLS=1 in the environment every relay speaks TLS with a
  // certificate of a CA made for the run (tlsCA()), so a whole suite runs
  // over wss:// unchanged.
  static async start(args = [], { threads = 2, logLevel = 'warn', timeoutMs = 10000, port: wanted = 0, tls } = {}) {
    const port = wanted || await freePort();
    if (!tls && process.env.TEST_OVER_TLS === '1' && !args.includes('--tls-cert')) tls = tlsCA().server;
    const cmd = ['--listen', `${HOST}:${port}`, '--threads', String(threads),
      '--log-level', logLevel, ...(tls ? ['--tls-cert', tls.cert, '--tls-key', tls.key] : []), ...extraArgs(), ...args];
    const proc = spawn(binary(), cmd, { stdio: ['ignore', 'pipe', 'pipe'] });
    const relay = new Relay(proc, port, tls);
    let spawnError = null;
    proc.once('error', (e) => { spawnError = e; });
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (spawnError) throw new Error(`cannot start ${binary()}: ${spawnError.message}`);
      if (relay.exitCode !== undefined) {
        throw new Error(`relay exited with ${relay.exitCode}: ${relay.out}`);
      }
      if (await canConnect(port)) return relay;
      await sleep(50);
    }
    proc.kill('SIGKILL');
    throw new Error(`relay did not start listening: ${relay.out}`);
  }

  // Signal the relay and wait for it to exit (SIGKILL after timeoutMs).
  // Throws on a sanitizer report or a non-zero exit.
  async stop(sig = 'SIGTERM', timeoutMs = 15000) {
    if (this.exitCode === undefined) {
      this.proc.kill(sig);
      let timer;
      const timedOut = await Promise.race([
        this.exited.then(() => false),
        new Promise((r) => { timer = setTimeout(() => r(true), timeoutMs); }),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        this.proc.kill('SIGKILL');
        await this.exited;
        throw new Error(`relay did not exit after ${sig}: ${this.out}`);
      }
    }
    if (/Sanitizer|runtime error:/.test(this.out)) {
      throw new Error(`sanitizer report from relay:\n${this.out}`);
    }
    if (this.exitCode !== 0) {
      throw new Error(`relay exited with ${this.exitCode} (signal ${this.signal}):\n${this.out}`);
    }
    return this.exitCode;
  }
}
