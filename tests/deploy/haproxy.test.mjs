// deploy/haproxy/reflector.cfg in Debian's HAProxy 2.6, over TLS with a
// certificate made for the test (lib/proxies.mjs). HAProxy sends PROXY
// protocol v2 to its backend: the tests with the relay behind it need the
// relay's --proxy-protocol and are skipped, saying so, while the relay's
// --help does not list it. The config's check and the PROXY header it sends
// are tested without the relay.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { Relay, freePort } from '../node/relay.mjs';
import { relayHasFlag } from '../node/lib/harness.mjs';
import { startHaproxy, haproxyConfig, workdir, makeCertificate } from './lib/proxies.mjs';
import { exchange, idleThenExchange, expectCutWhileIdle } from './lib/checks.mjs';

const NO_PROXY_PROTOCOL = relayHasFlag('--proxy-protocol') ? false
  : 'the relay has no --proxy-protocol yet (build/reflector --help does not list it), and HAProxy '
    + 'sends PROXY protocol v2 to it (deploy/haproxy/reflector.cfg: send-proxy-v2)';

const cleanups = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

test('haproxy: the config, with only the test\'s changes, is valid (haproxy -c)', async () => {
  const dir = workdir('haproxy-check');
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const cert = makeCertificate(dir);
  const cfg = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(cfg, haproxyConfig({ dir, cert, httpPort: 1080, httpsPort: 1443, backendPort: 1808 }));
  const r = spawnSync('/usr/sbin/haproxy', ['-c', '-f', cfg], { encoding: 'utf8', timeout: 10000 });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  assert.doesNotMatch(`${r.stdout}${r.stderr}`, /WARNING|ALERT/);
});

// A backend that records the PROXY v2 header of every connection and
// answers each request with 200 (the health checks' /healthz included).
function proxyV2Backend() {
  const headers = [];
  const server = net.createServer((sock) => {
    let buf = Buffer.alloc(0);
    let parsed = false;
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (!parsed && buf.length >= 16) {
        const len = buf.readUInt16BE(14);
        if (buf.length < 16 + len) return;
        headers.push(parseProxyV2(buf.subarray(0, 16 + len)));
        parsed = true;
        buf = buf.subarray(16 + len);
      }
      if (parsed && buf.includes('\r\n\r\n')) {
        sock.end('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n');
      }
    });
    sock.on('error', () => {});
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    port: server.address().port,
    headers,
    close: () => new Promise((r) => server.close(r)),
  })));
}

const V2_SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

// The fields of a PROXY protocol v2 header (haproxy's proxy-protocol.txt, 2.2).
function parseProxyV2(b) {
  assert.ok(b.subarray(0, 12).equals(V2_SIGNATURE), `not a PROXY v2 signature: ${b.subarray(0, 16).toString('hex')}`);
  const version = b[12] >> 4;
  const command = b[12] & 0xf ? 'PROXY' : 'LOCAL';
  const family = b[13];
  const h = { version, command, family };
  if (family === 0x11) { // TCP over IPv4
    h.src = `${b[16]}.${b[17]}.${b[18]}.${b[19]}`;
    h.dst = `${b[20]}.${b[21]}.${b[22]}.${b[23]}`;
    h.srcPort = b.readUInt16BE(24);
    h.dstPort = b.readUInt16BE(26);
  }
  return h;
}

test('haproxy: the backend gets PROXY v2 with the client\'s address; health checks come as LOCAL', async () => {
  const backend = await proxyV2Backend();
  cleanups.push(() => backend.close());
  const haproxy = await startHaproxy({ backendPort: backend.port });
  cleanups.push(() => haproxy.stop());
  // A request over TLS from a known source port.
  const sock = tls.connect({ host: '127.0.0.1', port: haproxy.httpsPort, ca: haproxy.cert.pem, servername: 'localhost' });
  await new Promise((resolve, reject) => { sock.once('secureConnect', resolve); sock.once('error', reject); });
  const clientPort = sock.localPort;
  sock.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
  let reply = '';
  sock.on('data', (d) => { reply += d; });
  await new Promise((resolve) => sock.once('close', resolve));
  assert.match(reply, /^HTTP\/1\.1 200/);
  const relayed = backend.headers.filter((h) => h.command === 'PROXY');
  assert.equal(relayed.length, 1, JSON.stringify(backend.headers));
  assert.deepEqual(relayed[0], {
    version: 2, command: 'PROXY', family: 0x11,
    src: '127.0.0.1', srcPort: clientPort, dst: '127.0.0.1', dstPort: haproxy.httpsPort,
  });
  // The first health check runs at start-up (check-send-proxy): a LOCAL
  // header, which carries no client address.
  const deadline = Date.now() + 8000;
  while (!backend.headers.some((h) => h.command === 'LOCAL') && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(backend.headers.some((h) => h.command === 'LOCAL' && h.version === 2), JSON.stringify(backend.headers));
});

test('haproxy: http redirects to https; the ACME challenge goes to certbot\'s backend', async () => {
  // certbot --standalone stands behind :8888 in the file; a test server here.
  const certbotPort = await freePort();
  const certbot = http.createServer((req, res) => res.end(`certbot saw ${req.url}`));
  await new Promise((r) => certbot.listen(certbotPort, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => { certbot.closeAllConnections(); certbot.close(r); }));
  const backend = await proxyV2Backend();
  cleanups.push(() => backend.close());
  const haproxy = await startHaproxy({ backendPort: backend.port, certbotPort });
  cleanups.push(() => haproxy.stop());
  const get = (p) => new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: haproxy.httpPort, path: p, timeout: 5000, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, location: res.headers.location, body }));
    }).on('error', reject);
  });
  const r = await get('/some/where?x=1');
  assert.equal(r.status, 301);
  assert.equal(r.location, `https://127.0.0.1:${haproxy.httpPort}/some/where?x=1`);
  const acme = await get('/.well-known/acme-challenge/token');
  assert.equal(acme.status, 200);
  assert.equal(acme.body, 'certbot saw /.well-known/acme-challenge/token');
});

test('haproxy: two Node ws clients register over wss:// and exchange envelopes both ways',
  { skip: NO_PROXY_PROTOCOL }, async () => {
    const relay = await Relay.start(['--proxy-protocol']);
    let haproxy;
    try {
      haproxy = await startHaproxy({ backendPort: relay.port });
      await exchange(`wss://127.0.0.1:${haproxy.httpsPort}/`, { ca: haproxy.cert.pem });
    } finally {
      await haproxy?.stop();
      await relay.stop();
    }
  });

// Scaled as in nginx.test.mjs: `timeout tunnel` (60 s in the file) is 3 s
// here and the relay pings every second; the control pings every 8 s.
const SCALED_TUNNEL_S = 3;

test('haproxy: an idle registered pair outlives two tunnel timeouts (3 s here; the relay pings every 1 s)',
  { skip: NO_PROXY_PROTOCOL, timeout: 60000 }, async () => {
    const relay = await Relay.start(['--proxy-protocol', '--ping-interval', '1']);
    let haproxy;
    try {
      haproxy = await startHaproxy({ backendPort: relay.port, tunnelS: SCALED_TUNNEL_S });
      await idleThenExchange(`wss://127.0.0.1:${haproxy.httpsPort}/`, { ca: haproxy.cert.pem },
        (2 * SCALED_TUNNEL_S + 1) * 1000);
    } finally {
      await haproxy?.stop();
      await relay.stop();
    }
  });

test('haproxy: control: the relay pinging every 8 s, HAProxy (tunnel 3 s) cuts the idle pair',
  { skip: NO_PROXY_PROTOCOL, timeout: 60000 }, async () => {
    const relay = await Relay.start(['--proxy-protocol', '--ping-interval', '8']);
    let haproxy;
    try {
      haproxy = await startHaproxy({ backendPort: relay.port, tunnelS: SCALED_TUNNEL_S });
      await expectCutWhileIdle(`wss://127.0.0.1:${haproxy.httpsPort}/`, { ca: haproxy.cert.pem },
        SCALED_TUNNEL_S * 1000, 8000);
    } finally {
      await haproxy?.stop();
      await relay.stop();
    }
  });
