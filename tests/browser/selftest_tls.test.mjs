// `/#selftest` in headless Chromium over https:// and wss:// from the relay
// itself (--tls-cert, --tls-key): the page comes over TLS and its clients
// connect to wss:// on the same origin. Chromium trusts exactly the test
// certificate (its SPKI pinned with --ignore-certificate-errors-spki-list),
// nothing else.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { Relay } from '../node/relay.mjs';
import { TestCA } from '../node/lib/testca.mjs';
import { requireWww, dumpDom, titleOf, WWW } from './lib/www.mjs';

before(() => requireWww());

function spkiHash(certFile) {
  const spki = new crypto.X509Certificate(fs.readFileSync(certFile)).publicKey.export({ type: 'spki', format: 'der' });
  return crypto.createHash('sha256').update(spki).digest('base64');
}

test('selftest over https: the page and its two clients over TLS -> ok', { timeout: 120000 }, async () => {
  const ca = new TestCA();
  const tls = ca.issue('server');
  const relay = await Relay.start(['--www', WWW], { tls });
  try {
    const html = await dumpDom(`https://localhost:${relay.port}/#selftest`,
      { extraFlags: [`--ignore-certificate-errors-spki-list=${spkiHash(tls.cert)}`] });
    assert.equal(titleOf(html), 'selftest: ok', html.slice(0, 3000));
    const steps = [...html.matchAll(/<li class="(\w+)">/g)].map((m) => m[1]);
    assert.deepEqual(steps, ['ok', 'ok', 'ok', 'ok', 'ok']);
  } finally {
    await relay.stop();
    ca.cleanup();
  }
});

test('selftest over https: a certificate Chromium does not trust -> the page never loads', { timeout: 120000 }, async () => {
  const ca = new TestCA();
  const relay = await Relay.start(['--www', WWW], { tls: ca.issue('server') });
  try {
    const html = await dumpDom(`https://localhost:${relay.port}/#selftest`, { budgetMs: 3000 });
    assert.notEqual(titleOf(html), 'selftest: ok');
  } finally {
    await relay.stop();
    ca.cleanup();
  }
});
