// A real NATS cluster for the relay's bus (--nats): nats-server processes
// joined by routes, on free loopback ports, each in a temporary directory,
// and relays each on a different server. Every wait is bounded.
import { before, after } from 'node:test';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Relay, freePort } from '../../node/relay.mjs';

const HOST = '127.0.0.1';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function natsServerBinary() {
  return process.env.NATS_SERVER || '/usr/sbin/nats-server';
}

async function getJson(url) {
  const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
  return res.json();
}

export class NatsServer {
  constructor(name, port, clusterPort, monitorPort, dir) {
    Object.assign(this, { name, port, clusterPort, monitorPort, dir, proc: null, out: '' });
  }

  get url() { return `nats://${HOST}:${this.port}`; }

  // With `config`: nats-server -c config (its ports must be this object's).
  start(routes, config) {
    if (config) {
      this.routes = routes;
      this.proc = spawn(natsServerBinary(), ['-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
      this.proc.on('error', (e) => { this.out += `spawn: ${e.message}\n`; });
      this.proc.stdout.on('data', (d) => { this.out += d; });
      this.proc.stderr.on('data', (d) => { this.out += d; });
      this.exited = new Promise((r) => this.proc.once('exit', r));
      return;
    }
    const args = ['-a', HOST, '-p', String(this.port), '-m', String(this.monitorPort),
      '-n', this.name, '--cluster_name', 'reflector-test',
      '--cluster', `nats://${HOST}:${this.clusterPort}`, '--routes', routes.join(','),
      '-P', path.join(this.dir, `${this.name}.pid`)];
    this.proc = spawn(natsServerBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.on('error', (e) => { this.out += `spawn: ${e.message}\n`; });
    this.proc.stdout.on('data', (d) => { this.out += d; });
    this.proc.stderr.on('data', (d) => { this.out += d; });
    this.exited = new Promise((r) => this.proc.once('exit', r));
    this.routes = routes;
  }

  async routesUp(want, timeoutMs = 10000) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      try {
        const r = await getJson(`http://${HOST}:${this.monitorPort}/routez`);
        if (r.num_routes >= want) return;
      } catch { /* not up yet */ }
      await sleep(50);
    }
    throw new Error(`nats-server ${this.name}: fewer than ${want} routes after ${timeoutMs} ms:\n${this.out}`);
  }

  // Subscriptions the server knows (its own clients' and its routes').
  async subscriptions() {
    return (await getJson(`http://${HOST}:${this.monitorPort}/subsz`)).num_subscriptions;
  }

  async kill(sig = 'SIGKILL') {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode) return;
    this.proc.kill(sig);
    await this.exited;
  }
}

// n servers, each routed to every other, all routes up.
export async function startNatsCluster(n = 3) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reflector-nats-'));
  const servers = [];
  for (let i = 0; i < n; i++) {
    servers.push(new NatsServer(`n${i}`, await freePort(), await freePort(), await freePort(), dir));
  }
  const routeUrls = servers.map((s) => `nats://${HOST}:${s.clusterPort}`);
  for (const s of servers) s.start(routeUrls.filter((u) => !u.endsWith(`:${s.clusterPort}`)));
  await Promise.all(servers.map((s) => s.routesUp(n - 1)));
  return {
    dir,
    servers,
    urls: servers.map((s) => s.url),
    async restart(i) {
      const s = servers[i];
      s.start(s.routes);
      await s.routesUp(servers.filter((x) => x.proc.exitCode === null && !x.proc.signalCode).length - 1);
    },
    async stop() {
      await Promise.all(servers.map((s) => s.kill('SIGTERM')));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

// A relay on the bus; `first` is the server it prefers (listed first, the
// others after it, so that it fails over to them).
export async function startNode(nats, first, { args = [], nodeId, threads = 2 } = {}) {
  const urls = [nats.urls[first], ...nats.urls.filter((_, i) => i !== first)];
  const relay = await Relay.start(['--nats', urls.join(','), '--node-id', nodeId ?? `node${first}`,
    '--cluster', 'test', ...args], { threads, logLevel: 'info' });
  return relay;
}

// Waits until every shard of relay has connected to NATS (its log says so).
export async function busUp(relay, shards = 2, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const n = (relay.out.match(/NATS connected to/g) || []).length;
    if (n >= shards) return;
    await sleep(20);
  }
  throw new Error(`relay's bus not up after ${timeoutMs} ms:\n${relay.out}`);
}

// Waits until a SIG is known to NATS everywhere: an invite3 from another
// node finds it (subscriptions propagate along routes asynchronously).
export async function reachable(client, sig, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    client.send({ handler: 'invite3', publicKeySig: sig });
    // A look-up written into a server's socket as it died gets no answer.
    const m = await client.next((x) => x.handler === 'invite4' && x.publicKeySig === sig, 1000).catch(() => ({ error: 'none' }));
    if (!m.error) return m;
    await sleep(20);
  }
  throw new Error(`${sig} not reachable after ${timeoutMs} ms`);
}

// A test file's cluster: 3 NATS servers and `relays` relays (relay i on
// server i), up before its first test and stopped after its last.
// `cluster.nats` is set by then; `cluster.nodes` fills in place.
export function useCluster(relays) {
  const cluster = { nats: null, nodes: [] };
  before(async () => {
    cluster.nats = await startNatsCluster(3);
    for (let i = 0; i < relays; i++) cluster.nodes.push(await startNode(cluster.nats, i));
    await Promise.all(cluster.nodes.map((n) => busUp(n)));
  });
  after(async () => {
    const errors = [];
    for (const n of cluster.nodes) await n.stop().catch((e) => errors.push(e));
    await cluster.nats?.stop();
    if (errors.length) throw errors[0];
  });
  return cluster;
}
