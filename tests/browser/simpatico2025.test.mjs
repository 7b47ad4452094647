// The 2025 Simpatico chat's own client (SecureWebSocketClient.js and
// crypto.js from simpaticoder/simpatico, unchanged: tests/browser/simpatico2025/)
// in headless Chromium against the relay, which serves the page too.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Relay, ROOT } from '../node/relay.mjs';
import { launch } from './lib/chat.mjs';

const FIXTURE = path.join(ROOT, 'tests', 'browser', 'simpatico2025');
let relay;
let browser;
let www;

before(async () => {
  www = fs.mkdtempSync(path.join(os.tmpdir(), 'simpatico2025-'));
  fs.cpSync(FIXTURE, www, { recursive: true });
  fs.mkdirSync(path.join(www, 'tweetnacl'));
  fs.copyFileSync(path.join(ROOT, 'tests', 'node_modules', 'tweetnacl', 'nacl-fast.js'),
    path.join(www, 'tweetnacl', 'nacl-fast.js'));
  relay = await Relay.start(['--www', www], { logLevel: 'info' });
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await relay?.stop();
  if (www) fs.rmSync(www, { recursive: true, force: true });
});

test('2025 client, unchanged: two users register and one message arrives decrypted', { timeout: 60000 }, async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`http://127.0.0.1:${relay.port}/index.html`);
  await page.waitForFunction(() => document.title !== 'running', null, { timeout: 20000 });
  assert.equal(await page.title(), 'ok: hello from the 2025 client (from alice)', errors.join('\n'));
  // The client decrypts every message it gets, the relay's MESSAGE_DELIVERED
  // ack included, and throws on it (it has no contact for its own key): an
  // upstream limitation the test records rather than hides.
  for (const e of errors) assert.match(e, /sharedSecret|contact/, e);
  await page.close();
  if (process.env.SHOW_PAGE_ERRORS) console.log(errors);
  // The relay counted two 2025 registrations and one delivered envelope.
  const r = relay;
  relay = null;
  await r.stop();
  const totals = r.out.split('\n').find((l) => / totals:/.test(l)) || '';
  assert.match(totals, / d25_registered=2\b/, r.out);
  assert.match(totals, / d25_delivered=1\b/, r.out);
  assert.doesNotMatch(totals, /d25_register_failed/, r.out);
});
