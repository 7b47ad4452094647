// deploy/nginx/reflector.conf in Debian's nginx, in front of the real relay,
// over TLS with a certificate made for the test (lib/proxies.mjs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import http from 'node:http';
import { Client } from '../node/lib/client.mjs';
import { Relay } from '../node/relay.mjs';
import { requireWww, dumpDom, titleOf, WWW } from '../browser/lib/www.mjs';
import { startNginx } from './lib/proxies.mjs';
import { exchange, idleThenExchange, expectCutWhileIdle } from './lib/checks.mjs';

let relay;
let nginx;
before(async () => {
  requireWww();
  relay = await Relay.start(['--www', WWW]);
  nginx = await startNginx({ relayPort: relay.port });
});
after(async () => {
  await nginx?.stop();
  await relay?.stop();
});

function get(url, opts = {}) {
  const lib = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.get(url, { timeout: 5000, agent: false, ...opts }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: timeout`)));
    req.on('error', reject);
  });
}

test('nginx: two Node ws clients register over wss:// and exchange envelopes both ways', async () => {
  const url = `wss://127.0.0.1:${nginx.httpsPort}/`;
  await exchange(url, { ca: nginx.cert.pem });
});

test('nginx: a client that does not trust the certificate is refused (the TLS is real)', async () => {
  await assert.rejects(Client.connect(`wss://127.0.0.1:${nginx.httpsPort}/`, { timeoutMs: 5000 }),
    /self[- ]signed certificate/);
});

test('nginx: https serves the page and /healthz from the relay; http redirects to https', async () => {
  const ca = nginx.cert.pem;
  const page = await get(`https://127.0.0.1:${nginx.httpsPort}/`, { ca });
  assert.equal(page.status, 200);
  assert.match(page.body, /<title>/i);
  const health = await get(`https://127.0.0.1:${nginx.httpsPort}/healthz`, { ca });
  assert.equal(health.status, 200);
  assert.equal(health.body.trim(), 'ok');
  const redirect = await get(`http://127.0.0.1:${nginx.httpPort}/some/where?x=1`);
  assert.equal(redirect.status, 301);
  assert.equal(redirect.headers.location, 'https://127.0.0.1/some/where?x=1');
  // certbot's webroot challenge is answered over http, not redirected.
  const acme = await get(`http://127.0.0.1:${nginx.httpPort}/.well-known/acme-challenge/token`);
  assert.equal(acme.status, 200);
  assert.equal(acme.body, 'challenge answer\n');
});

test('nginx: /#selftest in headless Chromium over https -> selftest: ok', { timeout: 90000 }, async () => {
  // The certificate is the test's own: Chromium ignores certificate errors
  // for this run only.
  const html = await dumpDom(`https://127.0.0.1:${nginx.httpsPort}/#selftest`,
    { extraFlags: ['--ignore-certificate-errors'] });
  assert.equal(titleOf(html), 'selftest: ok', html.slice(0, 3000));
});

// Idle connections, scaled: nginx's timeouts (60 s in the file) become 3 s
// in this copy and the relay pings every second, as it does every 20 s in
// production; a registered pair idles 7 s, past two of nginx's timeouts,
// and must still exchange envelopes. The control shows the timeout is
// real: with the relay pinging only every 8 s, nginx cuts the same idle
// pair after 3 s (close 1006), long before the relay would close them.
const SCALED_TIMEOUT_S = 3;

test('nginx: an idle registered pair outlives two of nginx\'s read timeouts (3 s here; the relay pings every 1 s)',
  { timeout: 60000 }, async () => {
    const pinging = await Relay.start(['--ping-interval', '1']);
    const proxy = await startNginx({ relayPort: pinging.port, readTimeoutS: SCALED_TIMEOUT_S });
    try {
      await idleThenExchange(`wss://127.0.0.1:${proxy.httpsPort}/`, { ca: proxy.cert.pem },
        (2 * SCALED_TIMEOUT_S + 1) * 1000);
    } finally {
      await proxy.stop();
      await pinging.stop();
    }
  });

test('nginx: control: the relay pinging every 8 s, nginx (3 s) cuts the idle pair', { timeout: 60000 }, async () => {
  const slow = await Relay.start(['--ping-interval', '8']);
  const proxy = await startNginx({ relayPort: slow.port, readTimeoutS: SCALED_TIMEOUT_S });
  try {
    await expectCutWhileIdle(`wss://127.0.0.1:${proxy.httpsPort}/`, { ca: proxy.cert.pem },
      SCALED_TIMEOUT_S * 1000, 8000);
  } finally {
    await proxy.stop();
    await slow.stop();
  }
});
