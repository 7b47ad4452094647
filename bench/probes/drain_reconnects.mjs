// The reconnect storm of a relay restart, seen by the relay that is left.
//
// usage: node bench/probes/drain_reconnects.mjs [--clients 2000]
//          [--drain-timeout S] [--jitter full|old] [--old-relay PATH]
//
// Relay A (--old-relay PATH, else $REFLECTOR or build/reflector) holds
// `clients` WebSockets (each has read its register2). A gets SIGTERM; every
// client, on its close, waits for its reconnect delay and opens a
// WebSocket on relay B (always $REFLECTOR or build/reflector) as the
// browser client does, and reads its register2 there. The delay is
// proto/js/backoff.js's for the first attempt: full jitter (uniform over
// (0, 500 ms]), or with --jitter old the ±20% around 500 ms the client had
// before it. Printed: B's new WebSockets per 100 ms from the signal on
// (B's reflector_websocket_upgrades_total, scraped from its --metrics-listen every
// 100 ms), the peak, the time to 50/90/100% back, and the same per-100-ms
// peak from the clients' own timestamps as a check.
// Not counted: the registration proof each returning tab would then pay
// (about 2 ms of P-521 on B), which the peak multiplies.
// Bounded: connecting 60 s at most, the drain --drain-timeout + 10 s.
import { spawn } from 'node:child_process';
import net from 'node:net';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from '../../tests/node_modules/ws/index.js';
import { backoffDelay } from '../../proto/js/backoff.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const HOST = '127.0.0.1';

function args() {
  const a = { clients: 2000, drainTimeout: null, jitter: 'full', oldRelay: null };
  const v = process.argv.slice(2);
  for (let i = 0; i < v.length; i += 2) {
    if (v[i] === '--clients') a.clients = Number(v[i + 1]);
    else if (v[i] === '--drain-timeout') a.drainTimeout = Number(v[i + 1]);
    else if (v[i] === '--jitter') a.jitter = v[i + 1];
    else if (v[i] === '--old-relay') a.oldRelay = v[i + 1];
    else { console.error(`bad argument ${v[i]}`); process.exit(2); }
  }
  return a;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, HOST, () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

async function startRelay(bin, extra) {
  const port = await freePort();
  const metrics = await freePort();
  const proc = spawn(bin, ['--listen', `${HOST}:${port}`, '--threads', '2', '--log-level', 'warn',
    '--metrics-listen', `${HOST}:${metrics}`, ...extra], { stdio: ['ignore', 'inherit', 'inherit'] });
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise((resolve) => {
      const s = net.connect({ host: HOST, port: metrics }, () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) return { proc, port, metrics };
    await new Promise((r) => setTimeout(r, 50));
  }
  proc.kill('SIGKILL');
  throw new Error(`${bin} did not start`);
}

function scrapeHandshakes(port) {
  return new Promise((resolve) => {
    const req = http.get({ host: HOST, port, path: '/metrics', timeout: 1000, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => {
        let n = 0;
        for (const line of body.split('\n')) {
          if (line.startsWith('reflector_websocket_upgrades_total')) n += Number(line.split(' ').pop());
        }
        resolve(n);
      });
    });
    req.on('error', () => resolve(null));
    req.on('timeout', () => { req.destroy(); resolve(null); });
  });
}

function oldDelay() {
  // The client before full jitter: 500 ms, ±20%.
  return Math.round(500 * (0.8 + 0.4 * Math.random()));
}

function openWs(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, 'simpatico.v1');
    const t = setTimeout(() => { ws.terminate(); reject(new Error('timeout')); }, 20000);
    ws.once('message', () => { clearTimeout(t); resolve(ws); });
    ws.once('error', (e) => { clearTimeout(t); reject(e); });
  });
}

async function main() {
  const a = args();
  const newBin = process.env.REFLECTOR || path.join(ROOT, 'build', 'reflector');
  // Unregistered clients would be closed by --register-timeout (10 s) in
  // the middle of a long drain: here they stay.
  const relayA = await startRelay(a.oldRelay || newBin, ['--register-timeout', '3600',
    ...(a.drainTimeout === null ? [] : ['--drain-timeout', String(a.drainTimeout)])]);
  const relayB = await startRelay(newBin, []);
  const back = [];
  let t0 = 0;
  const clients = [];
  try {
    const deadline = Date.now() + 60000;
    for (let i = 0; i < a.clients; i += 100) {
      if (Date.now() > deadline) throw new Error('connecting took over 60 s');
      const batch = [];
      for (let j = i; j < Math.min(a.clients, i + 100); j++) batch.push(openWs(`ws://${HOST}:${relayA.port}/`));
      clients.push(...await Promise.all(batch));
    }
    for (const ws of clients) {
      ws.on('close', () => {
        const delay = a.jitter === 'old' ? oldDelay() : backoffDelay(0);
        setTimeout(() => {
          openWs(`ws://${HOST}:${relayB.port}/`).then((w) => { back.push(performance.now() - t0); w.terminate(); },
            () => {});
        }, delay);
      });
    }
    const base = await scrapeHandshakes(relayB.metrics);
    const series = [];
    t0 = performance.now();
    relayA.proc.kill('SIGTERM');
    const limitMs = ((a.drainTimeout ?? 30) + 10) * 1000;
    let next = t0;
    while (back.length < a.clients && performance.now() - t0 < limitMs) {
      next += 100;
      await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())));
      series.push((await scrapeHandshakes(relayB.metrics)) - base);
    }
    const perSlot = series.map((v, i) => v - (i ? series[i - 1] : 0));
    const clientSlots = [];
    for (const t of back) clientSlots[Math.floor(t / 100)] = (clientSlots[Math.floor(t / 100)] || 0) + 1;
    const sorted = [...back].sort((x, y) => x - y);
    const at = (q) => (sorted.length ? (sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] / 1000).toFixed(2) : '-');
    console.log(JSON.stringify({
      relayA: a.oldRelay || newBin, drainTimeout: a.drainTimeout ?? 'default', jitter: a.jitter, clients: a.clients,
      back: back.length,
      peakPer100ms: Math.max(0, ...perSlot), peakPer100msClients: Math.max(0, ...Array.from(clientSlots, (x) => x || 0)),
      secondsTo50: at(0.5), secondsTo90: at(0.9), secondsTo100: at(1),
      per100ms: perSlot.join(' '),
    }));
  } finally {
    relayA.proc.kill('SIGKILL');
    relayB.proc.kill('SIGTERM');
    for (const ws of clients) ws.terminate();
    setTimeout(() => relayB.proc.kill('SIGKILL'), 3000).unref();
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
