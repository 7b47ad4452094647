// The demo chat in two browser contexts (two separate "people") against the
// real relay: B opens A's invite link, greets A, both write, and each page
// shows the other's decrypted text, as text.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { Relay } from '../node/relay.mjs';
import { requireWww, WWW, CHROMIUM, CHROMIUM_FLAGS } from './lib/www.mjs';

const WAIT = { timeout: 15000 };
const SIG = /^[A-Za-z0-9_-]{43}$/;
let relay;
let browser;

before(async () => {
  requireWww();
  relay = await Relay.start(['--www', WWW]);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS.filter((f) => f !== '--headless'), timeout: 30000 });
});
after(async () => {
  await browser?.close();
  await relay?.stop();
});

async function openChat(url) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url, WAIT);
  await page.waitForFunction(() => document.getElementById('status-text').textContent.includes('VERIFIED'), null, WAIT);
  return { page, context, errors };
}

const texts = (page, dir) => page.$$eval(`#messages li.msg[data-dir="${dir}"] .text`, (els) => els.map((e) => e.textContent));

async function waitForText(page, dir, text) {
  await page.waitForFunction(([d, t]) => [...document.querySelectorAll(`#messages li.msg[data-dir="${d}"] .text`)]
    .some((e) => e.textContent === t), [dir, text], WAIT);
}

async function say(page, text) {
  await page.fill('#text', text);
  await page.click('#send');
  await page.waitForFunction((t) => [...document.querySelectorAll('#messages li.msg[data-dir="out"]')]
    .some((li) => li.querySelector('.text').textContent === t && li.dataset.delivery === 'sent ✓'), text, WAIT);
}

test('chat: B opens A\'s invite link, they talk, each sees the other\'s decrypted text', { timeout: 120000 }, async () => {
  const A = await openChat(`http://127.0.0.1:${relay.port}/`);
  const sigA = await A.page.textContent('#my-sig');
  assert.match(sigA, SIG);
  const invite = await A.page.getAttribute('#invite-link', 'href');
  assert.equal(invite, `http://127.0.0.1:${relay.port}/#${sigA}`);
  assert.equal(await A.page.isDisabled('#text'), true, 'nobody to write to yet');

  const B = await openChat(invite);
  const sigB = await B.page.textContent('#my-sig');
  assert.match(sigB, SIG);
  assert.notEqual(sigA, sigB, 'a key pair per tab');

  // B looked A up and greeted; A shows the greeting from B.
  await waitForText(A.page, 'in', 'Hi! I opened your invite link.');
  assert.equal(await A.page.getAttribute('#peer', 'title'), sigB);

  // Text that looks like markup stays text.
  const html = '<img src=x onerror="document.title=\'pwned\'"><b>bold?</b>';
  await say(A.page, `Hello B! ${html}`);
  await waitForText(B.page, 'in', `Hello B! ${html}`);
  await say(B.page, 'Hello A, got it.');
  await waitForText(A.page, 'in', 'Hello A, got it.');

  assert.deepEqual(await texts(A.page, 'in'), ['Hi! I opened your invite link.', 'Hello A, got it.']);
  assert.deepEqual(await texts(B.page, 'in'), [`Hello B! ${html}`]);
  assert.equal(await B.page.$$eval('#messages img, #messages b', (els) => els.length), 0, 'no element made from a message');
  assert.notEqual(await B.page.title(), 'pwned');

  // The status line, the lag and the timeline of socket, registration and envelope states.
  for (const { page } of [A, B]) {
    assert.match(await page.textContent('#status-text'), /socket OPEN · VERIFIED/);
    await page.waitForFunction(() => /^lag \d+ ms$/.test(document.getElementById('lag').textContent), null, WAIT);
    const rows = await page.$$eval('#timeline li', (els) => els.map((e) => `${e.querySelector('.kind').textContent} ${e.dataset.state}`));
    for (const want of ['socket CONNECTING', 'socket OPEN', 'registration CHALLENGED', 'registration RESPONDED',
      'registration VERIFIED', 'envelope SENDING', 'envelope SENT', 'envelope RECEIVING', 'envelope RECEIVED']) {
      assert.ok(rows.includes(want), `timeline lacks ${want}: ${rows.join(', ')}`);
    }
  }
  if (process.env.SCREENSHOT_DIR) {
    await A.page.screenshot({ path: `${process.env.SCREENSHOT_DIR}/chat-a.png` });
    await B.page.screenshot({ path: `${process.env.SCREENSHOT_DIR}/chat-b.png` });
  }
  assert.deepEqual([...A.errors, ...B.errors], []);
  await A.context.close();
  await B.context.close();
});

test('chat: an invite link to a SIG nobody holds says so, and the page stays usable', { timeout: 60000 }, async () => {
  const nobody = 'A'.repeat(43);
  const G = await openChat(`http://127.0.0.1:${relay.port}/#${nobody}`);
  await G.page.waitForFunction(() => [...document.querySelectorAll('#messages li.notice')]
    .some((e) => e.textContent.includes('is not connected to this relay')), null, WAIT);
  assert.equal(await G.page.isDisabled('#text'), false);
  assert.deepEqual(G.errors, []);
  await G.context.close();
});

test('selftest in an ordinary page (real time, no virtual-time budget) -> ok', { timeout: 60000 }, async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`http://127.0.0.1:${relay.port}/#selftest`, WAIT);
  await page.waitForFunction(() => document.title.startsWith('selftest: ') && document.title !== 'selftest: running', null, WAIT);
  assert.equal(await page.title(), 'selftest: ok');
  await context.close();
});
