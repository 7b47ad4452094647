// `/#selftest` in headless Chromium exactly as the README tells operators
// to run it: against the real relay the verdict is `selftest: ok`; with the
// relay stopped it is a failure that says why.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { Relay } from '../node/relay.mjs';
import { requireWww, serveStatic, dumpDom, titleOf, WWW } from './lib/www.mjs';

before(() => requireWww());

test('selftest: the relay serves the page; two in-page clients exchange a message each way -> ok', { timeout: 90000 }, async () => {
  const relay = await Relay.start(['--www', WWW]);
  try {
    const html = await dumpDom(`http://127.0.0.1:${relay.port}/#selftest`);
    assert.equal(titleOf(html), 'selftest: ok', html.slice(0, 3000));
    // Every step is shown as passed in the page too.
    const steps = [...html.matchAll(/<li class="(\w+)">/g)].map((m) => m[1]);
    assert.deepEqual(steps, ['ok', 'ok', 'ok', 'ok', 'ok']);
  } finally {
    await relay.stop();
  }
});

test('selftest: relay stopped -> "selftest: failed: <reason>"', { timeout: 90000 }, async () => {
  // A relay that ran and stopped: its port is known and now closed. The page
  // comes from a plain file server and is pointed at that port.
  const relay = await Relay.start();
  await relay.stop();
  const www = await serveStatic(WWW);
  try {
    const html = await dumpDom(`http://127.0.0.1:${www.port}/?relay=ws://127.0.0.1:${relay.port}/#selftest`);
    const title = titleOf(html);
    assert.match(title, /^selftest: failed: .+/, html.slice(0, 3000));
    assert.match(title, /relay unreachable \(close 1006\)/);
  } finally {
    await www.close();
  }
});
