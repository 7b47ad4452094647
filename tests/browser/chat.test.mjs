// The demo chat as people use it, in headless Chromium against the real
// relay: separate browser contexts are separate people, each page comes
// through a proxy that adds the strict Content-Security-Policy, and every
// test ends with no page error, console error or CSP violation.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Relay, ROOT } from '../node/relay.mjs';
import { requireWww, WWW } from './lib/www.mjs';
import { cspProxy } from './lib/csp-proxy.mjs';
import {
  CSP, WAIT, SIG, launch, person, problems, contact, unread, open, type, waitDelivery, waitIncoming,
  texts, recordDeliveries, deliveries, axe, clipped, cspViolations,
} from './lib/chat.mjs';

const SHOTS = process.env.SCREENSHOT_DIR || path.join(ROOT, 'build', 'screenshots');
let relay;
let proxy;
let browser;

before(async () => {
  requireWww();
  relay = await Relay.start(['--www', WWW]);
  proxy = await cspProxy(relay.port, CSP);
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await proxy?.close();
  await relay?.stop();
});

async function noProblems(...people) {
  for (const p of people) assert.deepEqual(await problems(p), [], `page problems (${p.sig})`);
}

// The invite QR code, decoded in the page with the vendored decoder.
const decodeInviteQr = (page) => page.evaluate(async () => {
  const img = document.getElementById('invite-qr');
  await img.decode();
  const canvas = document.createElement('canvas');
  canvas.width = img.naturalWidth;
  canvas.height = img.naturalHeight;
  const ctx = canvas.getContext('2d');
  ctx.drawImage(img, 0, 0);
  const { default: decodeQR } = await import('/vendor/qr/decode.js');
  return decodeQR(ctx.getImageData(0, 0, canvas.width, canvas.height));
});

test('chat: A talks with B and C at once: contacts, unread counts, delivery states, markup as text, a closed tab', { timeout: 90000 }, async () => {
  const A = await person(browser, proxy.url);
  assert.match(A.sig, SIG);
  const invite = await A.page.getAttribute('#invite-link', 'href');
  assert.equal(invite, `${proxy.url}#${A.sig}`);
  assert.equal(await decodeInviteQr(A.page), invite, 'the QR code is the invite link');
  assert.equal(await A.page.isVisible('#no-contacts'), true);
  assert.equal(await A.page.isDisabled('#text'), true, 'nobody to write to yet');

  // B opens the invite link (and greets); C pastes it and names A "Alice".
  const B = await person(browser, invite);
  assert.equal(await B.page.evaluate(() => location.hash), '', 'the address bar no longer shows A\'s link');
  await A.page.waitForSelector(`#contacts li[data-sig="${B.sig}"] .c-unread`, WAIT); // B's greeting, counted
  const C = await person(browser, proxy.url);
  await C.page.fill('#start-input', invite);
  await C.page.fill('#start-name', 'Alice');
  await C.page.press('#start-name', 'Enter');
  await C.page.waitForFunction((s) => document.getElementById('conv-sig').textContent === s, A.sig, WAIT);
  assert.equal(await C.page.textContent('#conv-title'), 'Alice');
  assert.equal(await C.page.evaluate(() => document.activeElement.id), 'text', 'the message box has the focus');
  await type(C.page, 'Hello from C');
  assert.equal(await waitDelivery(C.page, 'Hello from C', 'delivered'), 'delivered');

  // A has two conversations, one unread message each, none open.
  await A.page.waitForFunction(([b, c]) => [b, c].every((s) => document.querySelector(`#contacts li[data-sig="${s}"] .c-unread`)),
    [B.sig, C.sig], WAIT);
  assert.equal(await unread(A.page, B.sig), 1);
  assert.equal(await unread(A.page, C.sig), 1);
  assert.equal(await A.page.title(), '(2) Reflector');
  assert.equal(await A.page.textContent('#conv-title'), 'No conversation open');
  assert.deepEqual(await A.page.$$eval('#contacts li', (els) => els.map((e) => e.dataset.sig)), [C.sig, B.sig], 'latest first');
  assert.match(await contact(A.page, C.sig).textContent(), /Hello from C/);

  // A opens B's conversation: read; writes markup over two lines.
  await open(A.page, B.sig);
  assert.equal(await unread(A.page, B.sig), 0);
  assert.deepEqual(await texts(A.page, 'in'), ['Hi! I opened your invite link.']);
  await recordDeliveries(A.page);
  const markup = '<img src=x onerror="document.title=\'pwned\'"><b>bold?</b>\nsecond line';
  await type(A.page, markup);
  assert.equal(await waitDelivery(A.page, markup, 'delivered'), 'delivered');
  assert.deepEqual((await deliveries(A.page, markup)).filter((s) => s !== 'queued'), ['sending', 'sent', 'delivered']);
  // The bubble names its envelope; the timeline shows that envelope's ack.
  const envelope = await A.page.evaluate((t) => [...document.querySelectorAll('#messages li.msg[data-dir="out"]')]
    .find((li) => li.querySelector('.text').textContent === t).querySelector('.delivery').title, markup);
  assert.match(envelope, /^envelope #\d+$/);
  const id = envelope.split('#')[1];
  assert.ok(await A.page.$$eval('#timeline li[data-state="SENT"] .detail', (els, n) => els.some((e) => e.textContent.startsWith(`#${n} to `)
    && e.textContent.endsWith(' delivered')), id), `timeline row for envelope #${id}`);
  await waitIncoming(B.page, markup);
  assert.equal(await B.page.$$eval('#messages img, #messages b, #contacts img, #contacts b', (els) => els.length), 0,
    'no element made from a message');
  assert.notEqual(await B.page.title(), 'pwned');
  assert.equal(await A.page.inputValue('#text'), '', 'Enter sent and cleared the box');

  // B answers; A, looking at B, gets no unread count for it.
  await type(B.page, 'line one\nline two');
  await waitIncoming(A.page, 'line one\nline two');
  assert.equal(await unread(A.page, B.sig), 0);

  // C writes twice more while A reads B: C's count is 3.
  await type(C.page, 'Are you there?');
  await type(C.page, 'Alice?');
  await waitDelivery(C.page, 'Alice?', 'delivered');
  await A.page.waitForFunction((c) => /3/.test(document.querySelector(`#contacts li[data-sig="${c}"] .c-unread`)?.textContent ?? ''),
    C.sig, WAIT);
  assert.equal(await unread(A.page, C.sig), 3);
  assert.equal(await A.page.title(), '(3) Reflector');

  // A names B "Bob" (keyboard only).
  await A.page.click('#rename');
  await A.page.keyboard.insertText('Bob');
  await A.page.keyboard.press('Enter');
  assert.equal(await A.page.textContent('#conv-title'), 'Bob');
  assert.match(await contact(A.page, B.sig).locator('.c-name').textContent(), /^Bob$/);
  assert.equal(await A.page.evaluate(() => document.activeElement.id), 'rename');

  // A opens C, answers, and C's tab closes: the next message fails, says why, and offers a retry.
  await open(A.page, C.sig);
  assert.equal(await unread(A.page, C.sig), 0);
  assert.equal(await A.page.title(), 'Reflector');
  assert.deepEqual(await texts(A.page, 'in'), ['Hello from C', 'Are you there?', 'Alice?']);
  await type(A.page, 'Yes, here.');
  await waitDelivery(A.page, 'Yes, here.', 'delivered');
  await waitIncoming(C.page, 'Yes, here.');
  assert.deepEqual(await C.page.$$eval('#contacts .c-name', (els) => els.map((e) => e.textContent)), ['Alice']);
  await noProblems(C);
  await C.close();
  await type(A.page, 'Still there?');
  assert.equal(await waitDelivery(A.page, 'Still there?', 'failed'), 'failed: RECIPIENT_NOT_AVAILABLE');
  const row = A.page.locator('#messages li.msg[data-state="failed"]');
  assert.equal(await row.locator('.retry').isVisible(), true);
  await recordDeliveries(A.page);
  await row.locator('.retry').click();
  await A.page.waitForFunction(() => window.__deliveries.some(([t, s]) => t === 'Still there?' && s === 'sending'), null, WAIT);
  assert.equal(await waitDelivery(A.page, 'Still there?', 'failed'), 'failed: RECIPIENT_NOT_AVAILABLE', 'retried, still gone');
  assert.equal(await A.page.evaluate(() => document.activeElement.id), 'text', 'the vanished retry button handed the focus to the message box');

  // The conversation with Bob is unaffected.
  await open(A.page, B.sig);
  await type(A.page, 'Bob, still fine?');
  await waitDelivery(A.page, 'Bob, still fine?', 'delivered');
  await waitIncoming(B.page, 'Bob, still fine?');

  // Timelines: socket, registration and envelope states.
  for (const { page } of [A, B]) {
    assert.match(await page.textContent('#status-text'), /Online · socket OPEN · VERIFIED/);
    await page.waitForFunction(() => /^lag \d+ ms$/.test(document.getElementById('lag').textContent), null, WAIT);
    const rows = await page.$$eval('#timeline li', (els) => els.map((e) => `${e.querySelector('.kind').textContent} ${e.dataset.state}`));
    for (const want of ['socket CONNECTING', 'socket OPEN', 'registration CHALLENGED', 'registration RESPONDED',
      'registration VERIFIED', 'envelope SENDING', 'envelope SENT', 'envelope RECEIVING', 'envelope RECEIVED']) {
      assert.ok(rows.includes(want), `timeline lacks ${want}: ${rows.join(', ')}`);
    }
  }
  assert.deepEqual(await axe(A.page), [], 'axe-core: serious or critical violations');
  await noProblems(A, B);
  await A.close();
  await B.close();
});

// A Y4M video (what Chromium's fake camera plays) showing `text` as a QR
// code, made with the web root's own copy of the encoder.
async function qrVideo(text, file) {
  const { default: encodeQR } = await import(path.join(WWW, 'vendor', 'qr', 'index.js'));
  const modules = encodeQR(text, 'raw', { border: 4 });
  const [w, h, scale] = [640, 480, 8];
  const size = modules.length * scale;
  const [x0, y0] = [(w - size) / 2, (h - size) / 2];
  const luma = Buffer.alloc(w * h, 255);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) if (modules[Math.floor(y / scale)][Math.floor(x / scale)]) luma[(y0 + y) * w + x0 + x] = 0;
  }
  const chroma = Buffer.alloc((w / 2) * (h / 2) * 2, 128);
  const frame = Buffer.concat([Buffer.from('FRAME\n'), luma, chroma]);
  fs.writeFileSync(file, Buffer.concat([Buffer.from(`YUV4MPEG2 W${w} H${h} F10:1 Ip A1:1 C420jpeg\n`), frame, frame]));
}

test('chat: start by a QR code (camera, picture) or a bare SIG; bad input says why', { timeout: 90000 }, async () => {
  const P = await person(browser, proxy.url, { width: 768 });
  const Q = await person(browser, proxy.url, { width: 768 });
  // A photo of Q's screen: its QR code, as a PNG.
  const picture = await Q.page.locator('#invite-qr').screenshot();
  await P.page.setInputFiles('#scan-file', { name: 'invite.png', mimeType: 'image/png', buffer: picture });
  await P.page.waitForFunction((s) => document.getElementById('conv-sig').textContent === s, Q.sig, WAIT);
  await P.page.waitForFunction(() => [...document.querySelectorAll('#messages li.notice')].some((e) => /is connected/.test(e.textContent)),
    null, WAIT);
  await type(P.page, 'Scanned you.');
  await waitDelivery(P.page, 'Scanned you.', 'delivered');
  await Q.page.waitForSelector(`#contacts li[data-sig="${P.sig}"]`, WAIT);
  assert.equal(await unread(Q.page, P.sig), 1);
  await open(Q.page, P.sig);
  await waitIncoming(Q.page, 'Scanned you.');

  // No camera here (no device, no permission): the page says so and closes the view.
  await P.page.click('#scan-camera');
  await P.page.waitForFunction(() => /The camera is not available/.test(document.getElementById('start-error').textContent), null, WAIT);
  assert.equal(await P.page.isHidden('#scanner'), true);

  // A picture with no QR code, text that is no invite, our own invite.
  const noCode = await P.page.locator('header.top').screenshot();
  await P.page.setInputFiles('#scan-file', { name: 'header.png', mimeType: 'image/png', buffer: noCode });
  await P.page.waitForFunction(() => /No QR code found/.test(document.getElementById('start-error').textContent), null, WAIT);
  await P.page.fill('#start-input', 'https://example.invalid/#not-a-sig');
  await P.page.click('#start-submit');
  assert.match(await P.page.textContent('#start-error'), /Paste an invite link/);
  assert.equal(await P.page.getAttribute('#start-input', 'aria-invalid'), 'true');
  assert.equal(await P.page.evaluate(() => document.activeElement.id), 'start-input');
  await P.page.fill('#start-input', P.sig);
  await P.page.click('#start-submit');
  assert.match(await P.page.textContent('#start-error'), /your own invite/);
  assert.equal(await P.page.locator('#contacts li').count(), 1, 'nothing started');

  // Q starts with P by pasting P's bare SIG: the existing conversation opens, no duplicate.
  await Q.page.fill('#start-input', P.sig);
  await Q.page.click('#start-submit');
  await Q.page.waitForFunction((s) => document.getElementById('conv-sig').textContent === s, P.sig, WAIT);
  assert.equal(await Q.page.locator('#contacts li').count(), 1);
  assert.equal(await Q.page.textContent('#start-error'), '');
  await noProblems(P, Q);
  await P.close();

  // S scans Q's code with the camera: a second Chromium whose fake camera
  // plays a video of Q's invite QR code.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reflector-camera-'));
  const video = path.join(dir, 'invite.y4m');
  await qrVideo(await Q.page.getAttribute('#invite-link', 'href'), video);
  const camera = await launch(['--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${video}`]);
  try {
    const S = await person(camera, proxy.url, { width: 768, permissions: ['camera'] });
    await S.page.click('#scan-camera');
    await S.page.waitForFunction((sig) => document.getElementById('conv-sig').textContent === sig, Q.sig, WAIT);
    assert.equal(await S.page.isHidden('#scanner'), true, 'the camera view closed after the scan');
    assert.equal(await S.page.evaluate(() => document.getElementById('scan-video').srcObject), null, 'the camera is released');
    await type(S.page, 'Scanned with the camera.');
    await waitDelivery(S.page, 'Scanned with the camera.', 'delivered');
    await open(Q.page, S.sig);
    await waitIncoming(Q.page, 'Scanned with the camera.');
    await noProblems(S, Q);
    await S.close();
  } finally {
    await camera.close();
    fs.rmSync(dir, { recursive: true, force: true });
    await Q.close();
  }
});

test('chat: the relay restarts mid-conversation: banner with countdown, a message typed offline goes after re-registration', { timeout: 90000 }, async () => {
  let own = await Relay.start(['--www', WWW]);
  const ownProxy = await cspProxy(own.port, CSP);
  try {
    const A = await person(browser, ownProxy.url);
    const B = await person(browser, `${ownProxy.url}#${A.sig}`, { width: 360, height: 740 });
    await A.page.waitForSelector(`#contacts li[data-sig="${B.sig}"]`, WAIT);
    await open(A.page, B.sig);
    await type(A.page, 'before the restart');
    await waitIncoming(B.page, 'before the restart');
    assert.equal(await A.page.isHidden('#banner'), true);

    await own.stop(); // SIGTERM: close 1001 to both, then exit
    for (const { page } of [A, B]) {
      await page.waitForFunction(() => /^Connection to the relay lost\. Reconnecting in \d+ s \(attempt \d+ of 40\)/
        .test(document.getElementById('banner-text').textContent)
        && !document.getElementById('banner').hidden, null, WAIT);
      assert.match(await page.textContent('#status-text'), /^(Offline|Connecting)/);
    }
    await type(A.page, 'typed while offline');
    assert.equal(await waitDelivery(A.page, 'typed while offline', 'queued'), 'queued: waiting for the relay');
    await A.page.waitForFunction(() => /1 message waits to be sent/.test(document.getElementById('banner-text').textContent), null, WAIT);
    // The countdown follows the client's backoff: a refused attempt, then the next one's countdown.
    await A.page.waitForFunction(() => /attempt [2-9]/.test(document.getElementById('banner-text').textContent), null, WAIT);
    assert.deepEqual(await clipped(B.page), [], 'nothing clipped at 360 px with the banner');
    assert.deepEqual(await axe(B.page), [], 'axe-core with the banner');
    fs.mkdirSync(SHOTS, { recursive: true });
    await B.page.screenshot({ path: path.join(SHOTS, 'chat-reconnecting-360.png'), fullPage: true });

    own = await Relay.start(['--www', WWW], { port: own.port });
    assert.equal(await waitDelivery(A.page, 'typed while offline', 'delivered', 40000), 'delivered');
    await waitIncoming(B.page, 'typed while offline');
    for (const { page } of [A, B]) {
      await page.waitForFunction(() => document.getElementById('banner').hidden, null, WAIT);
      assert.match(await page.textContent('#status-text'), /Online · socket OPEN · VERIFIED/);
    }
    // And both ways again.
    await type(B.page, 'back');
    await waitIncoming(A.page, 'back');
    await noProblems(A, B);
    await A.close();
    await B.close();
  } finally {
    await ownProxy.close();
    await own.stop();
  }
});

test('chat: nothing clipped from 360 to 1920 px; screenshots at 360, 768 and 1440 px; axe-core at 360 px', { timeout: 90000 }, async () => {
  const X = await person(browser, proxy.url, { width: 1440, height: 900 });
  // What a new user sees first: no conversation yet.
  fs.mkdirSync(SHOTS, { recursive: true });
  const fresh = {};
  for (const width of [360, 768, 1440]) {
    await X.page.setViewportSize({ width, height: 900 });
    await X.page.screenshot({ path: path.join(SHOTS, `chat-new-${width}.png`), fullPage: true });
    fresh[width] = await clipped(X.page);
  }
  assert.deepEqual(fresh, { 360: [], 768: [], 1440: [] });
  await X.page.setViewportSize({ width: 1440, height: 900 });
  const Y = await person(browser, `${proxy.url}#${X.sig}`, { width: 1440, height: 900 });
  await X.page.waitForSelector(`#contacts li[data-sig="${Y.sig}"]`, WAIT);
  await open(X.page, Y.sig);
  await X.page.click('#rename');
  await X.page.keyboard.insertText('Averyveryveryverylongnamewithoutaspace01');
  await X.page.keyboard.press('Enter');
  const long = `A word too long for any line: ${'x'.repeat(180)}, and a link https://example.invalid/${'y'.repeat(60)}`;
  await type(X.page, long);
  await waitIncoming(Y.page, long);
  await type(Y.page, 'Short answer.\nOn two lines.');
  await waitIncoming(X.page, 'Short answer.\nOn two lines.');
  // A conversation with nobody: a failed message with its retry button.
  const nobody = 'N'.repeat(43);
  await X.page.fill('#start-input', nobody);
  await X.page.fill('#start-name', 'Nobody at all');
  await X.page.click('#start-submit');
  await X.page.waitForFunction(() => [...document.querySelectorAll('#messages li.notice')].some((e) => /not connected/.test(e.textContent)), null, WAIT);
  await type(X.page, 'Hello?');
  assert.equal(await waitDelivery(X.page, 'Hello?', 'failed'), 'failed: RECIPIENT_NOT_AVAILABLE');
  await open(X.page, Y.sig);

  const report = {};
  for (const width of [360, 768, 1440]) {
    for (const { page } of [X, Y]) await page.setViewportSize({ width, height: 900 });
    await X.page.screenshot({ path: path.join(SHOTS, `chat-${width}.png`), fullPage: true });
    report[width] = [...await clipped(X.page), ...await clipped(Y.page)];
  }
  assert.deepEqual(report, { 360: [], 768: [], 1440: [] });
  const sweep = [];
  for (let width = 360; width <= 1920; width += 20) {
    await X.page.setViewportSize({ width, height: 900 });
    for (const c of await clipped(X.page)) sweep.push(`${width}px ${c}`);
  }
  await X.page.setViewportSize({ width: 1100, height: 900 }); // the width the old timeline was cut at
  sweep.push(...(await clipped(X.page)).map((c) => `1100px ${c}`));
  assert.deepEqual(sweep, []);
  // The check sees clipping: a row too wide for the timeline is reported.
  await X.page.evaluate(() => {
    const probe = document.createElement('li');
    probe.id = 'probe';
    probe.textContent = 'CONNECTING'.repeat(40);
    probe.style.whiteSpace = 'nowrap';
    document.getElementById('timeline').append(probe);
  });
  assert.ok((await clipped(X.page)).some((c) => c.startsWith('li#probe')), 'the clipping check reports a clipped row');
  await X.page.evaluate(() => document.getElementById('probe').remove());

  await X.page.setViewportSize({ width: 360, height: 740 });
  assert.deepEqual(await axe(X.page), [], 'axe-core at 360 px');
  await noProblems(X, Y);
  await X.close();
  await Y.close();
});

test('chat: an invite link to a SIG nobody holds says so, and the page stays usable', { timeout: 60000 }, async () => {
  const nobody = 'A'.repeat(43);
  const G = await person(browser, `${proxy.url}#${nobody}`);
  await G.page.waitForFunction(() => [...document.querySelectorAll('#messages li.notice')]
    .some((e) => e.textContent.includes('is not connected to this relay')), null, WAIT);
  assert.equal(await G.page.isDisabled('#text'), false);
  assert.equal(await G.page.locator('#messages li.msg').count(), 0, 'no greeting to nobody');
  await noProblems(G);
  await G.close();
});

test('CSP: the check sees violations (a page with inline script and style under the same policy)', { timeout: 30000 }, async () => {
  const context = await browser.newContext();
  const probe = `${proxy.url}csp-probe.html`;
  await context.route(probe, (route) => route.fulfill({
    status: 200,
    headers: { 'content-type': 'text/html', 'content-security-policy': CSP },
    body: '<!doctype html><title>probe</title><style>p{}</style><p style="color:red">x</p><script>document.title="ran"</script>',
  }));
  await context.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push(e.violatedDirective));
  });
  const page = await context.newPage();
  await page.goto(probe, WAIT);
  await page.waitForFunction(() => window.__cspViolations.length >= 3, null, WAIT);
  assert.equal(await page.title(), 'probe', 'the inline script did not run');
  assert.deepEqual([...new Set(await cspViolations(page))].sort(), ['script-src-elem', 'style-src-attr', 'style-src-elem']);
  await context.close();
});

test('selftest in an ordinary page (real time, no virtual-time budget, under the CSP) -> ok', { timeout: 60000 }, async () => {
  const S = await person(browser, `${proxy.url}#selftest`, { waitVerified: false });
  await S.page.waitForFunction(() => document.title.startsWith('selftest: ') && document.title !== 'selftest: running', null, WAIT);
  assert.equal(await S.page.title(), 'selftest: ok');
  await noProblems(S);
  await S.close();
});
