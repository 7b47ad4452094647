// reflector-peer: the Node.js baseline for the relay's benchmarks, built
// the way the Simpatico reflector is (one process, npm `ws`, node:crypto)
// and speaking protocol v1 completely enough to pass the relay's
// end-to-end tests (tests/node/e2e). One event loop; the proofs' ECDH runs
// on libuv's thread pool through WebCrypto.
import http from 'node:http';
import { createRequire } from 'node:module';
import { parseArgs } from './config.mjs';
import { loadKey, generateKey, writeKey, importForEcdh } from './server_key.mjs';
import { httpHandler } from './http.mjs';
import { Session } from './session.mjs';

// ws is installed for the tests (tests/deps.sh: npm ci in tests/).
const require = createRequire(new URL('../../tests/node_modules/', import.meta.url));
const { WebSocketServer } = require('ws');

const LEVELS = { error: 0, warn: 1, info: 2, debug: 3 };
const SWEEP_MS = 250;

function refuseUpgrade(socket, status, reason) {
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
}

function startHub(cfg, key, ecdhKey) {
  const counters = new Map();
  const log = (level, text) => {
    if (LEVELS[level] <= LEVELS[cfg.logLevel]) process.stderr.write(`reflector-peer: ${level}: ${text}\n`);
  };
  const challengePrefix = `{"handler":"register2","publicKeyPem":${JSON.stringify(key.publicKeyPem)},"t1":`;
  let lastT1 = 0;
  const hub = {
    cfg,
    ecdhKey,
    log,
    registry: new Map(),
    sessions: new Set(),
    backlogged: new Set(),
    perIp: new Map(),
    stopping: false,
    // t1 strictly increases across every connection, also within one millisecond.
    nextT1: () => { lastT1 = Math.max(Date.now(), lastT1 + 1); return lastT1; },
    challenge: (t1) => `${challengePrefix}${t1}}`,
    count: (name) => counters.set(name, (counters.get(name) ?? 0) + 1),
    counters,
  };
  return hub;
}

function onUpgrade(hub, wss, req, socket, head) {
  const { cfg } = hub;
  const ip = socket.remoteAddress ?? '';
  if (hub.stopping) return refuseUpgrade(socket, 503, 'Service Unavailable');
  if (hub.sessions.size >= cfg.maxConns) {
    hub.count('max_conns');
    return refuseUpgrade(socket, 503, 'Service Unavailable');
  }
  if (cfg.maxConnsPerIp && (hub.perIp.get(ip) ?? 0) >= cfg.maxConnsPerIp) {
    hub.count('max_conns_per_ip');
    return refuseUpgrade(socket, 503, 'Service Unavailable');
  }
  return wss.handleUpgrade(req, socket, head, (ws) => {
    const s = new Session(hub, ws, ip);
    hub.sessions.add(s);
    hub.perIp.set(ip, (hub.perIp.get(ip) ?? 0) + 1);
    ws.on('message', (data, isBinary) => s.onMessage(data, isBinary));
    ws.on('pong', () => { s.lastSeen = Date.now(); });
    ws.on('ping', () => { s.lastSeen = Date.now(); });
    ws.on('error', (e) => hub.log('info', `closing a connection: ${e.message}`));
    ws.on('close', () => {
      s.onClose();
      hub.sessions.delete(s);
      const n = (hub.perIp.get(ip) ?? 1) - 1;
      if (n) hub.perIp.set(ip, n);
      else hub.perIp.delete(ip);
    });
  });
}

// Pings, silent connections, and recipients stuck over --max-queued.
function startTimers(hub) {
  const { cfg } = hub;
  const pinger = setInterval(() => {
    const silentBefore = Date.now() - 2 * cfg.pingIntervalS * 1000;
    for (const s of hub.sessions) {
      if (s.lastSeen < silentBefore) {
        hub.count('silent');
        s.ws.terminate();
      } else {
        s.ws.ping();
      }
    }
  }, cfg.pingIntervalS * 1000);
  const sweeper = setInterval(() => {
    const now = Date.now();
    for (const s of hub.backlogged) {
      if (s.ws.bufferedAmount < cfg.maxQueued) {
        s.backlogSince = 0;
        hub.backlogged.delete(s);
      } else if (now - s.backlogSince > cfg.slowConsumerTimeoutS * 1000) {
        hub.count('slow_consumer');
        hub.backlogged.delete(s);
        s.ws.terminate();
      }
    }
  }, SWEEP_MS);
  return () => { clearInterval(pinger); clearInterval(sweeper); };
}

// SIGINT/SIGTERM: stop accepting, close 1001 to everyone, wait at most
// --drain-timeout, log the counters, exit 0.
function onStop(hub, server, stopTimers) {
  let stopping = false;
  return () => {
    if (stopping) return;
    stopping = true;
    hub.stopping = true;
    server.close();
    stopTimers();
    for (const s of hub.sessions) s.ws.close(1001, 'going away');
    const deadline = Date.now() + hub.cfg.drainTimeoutS * 1000;
    const wait = setInterval(() => {
      if (hub.sessions.size && Date.now() < deadline) return;
      clearInterval(wait);
      for (const s of hub.sessions) s.ws.terminate();
      hub.log('info', `counters: ${[...hub.counters].map(([k, v]) => `${k}=${v}`).join(' ') || 'none'}`);
      process.exit(0);
    }, 20);
  };
}

export async function main(argv) {
  if (argv[0] === 'keygen') {
    if (argv.length !== 2) {
      process.stderr.write('usage: reflector-peer keygen FILE\n');
      process.exit(2);
    }
    const key = generateKey();
    try {
      writeKey(argv[1], key);
    } catch (e) {
      process.stderr.write(`reflector-peer: key file ${argv[1]}: cannot create: ${e.message}\n`);
      process.exit(1);
    }
    process.stdout.write(`${key.sig}\n`);
    return;
  }
  const parsed = parseArgs(argv);
  if (parsed.exit !== undefined) {
    (parsed.exit ? process.stderr : process.stdout).write(parsed.err ?? parsed.out);
    process.exit(parsed.exit);
  }
  const { cfg } = parsed;
  let key;
  if (cfg.key) {
    const r = loadKey(cfg.key);
    if (r.error) {
      process.stderr.write(`reflector-peer: ${r.error}\n`);
      process.exit(2);
    }
    key = r.key;
  } else {
    key = generateKey();
  }
  const hub = startHub(cfg, key, await importForEcdh(key));
  const server = http.createServer(httpHandler(cfg.www));
  server.headersTimeout = cfg.handshakeTimeoutS * 1000;
  server.requestTimeout = cfg.handshakeTimeoutS * 1000;
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: cfg.maxMessage,
    perMessageDeflate: false,
    clientTracking: false,
    handleProtocols: (protocols) => (protocols.has('simpatico.v1') ? 'simpatico.v1' : false),
  });
  server.on('upgrade', (req, socket, head) => onUpgrade(hub, wss, req, socket, head));
  server.on('error', (e) => {
    process.stderr.write(`reflector-peer: cannot listen on ${cfg.listen.host}:${cfg.listen.port}: ${e.message}\n`);
    process.exit(1);
  });
  const stop = onStop(hub, server, startTimers(hub));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  server.listen({ host: cfg.listen.host, port: cfg.listen.port, backlog: 4096 }, () => {
    hub.log('info', `listening on ${cfg.listen.host}:${cfg.listen.port}, node ${process.version}, `
      + `${process.env.UV_THREADPOOL_SIZE ?? 4} crypto threads, server key ${key.sig}`);
  });
}
