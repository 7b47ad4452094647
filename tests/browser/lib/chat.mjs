// Driving the demo chat in headless Chromium (playwright-core): each person
// is a browser context of its own; the tests load the page through
// csp-proxy.mjs, which adds the strict Content-Security-Policy the relay's
// static responses are to carry; CSP violations, page errors and console
// errors are collected per page.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_FLAGS } from './www.mjs';

export const CSP = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; "
  + "script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";
export const WAIT = { timeout: 15000 };
export const SIG = /^[A-Za-z0-9_-]{43}$/;

export function launch(extraArgs = []) {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [...CHROMIUM_FLAGS.filter((f) => f !== '--headless'), ...extraArgs],
    timeout: 30000,
  });
}

// Runs in the page before its own scripts (through the DevTools protocol,
// which the page's CSP does not govern): records every CSP violation.
function watchCsp() {
  window.__cspViolations = [];
  document.addEventListener('securitypolicyviolation', (e) => {
    window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || '(inline)'} at ${e.sourceFile}:${e.lineNumber}`);
  });
}

// A person: a fresh context (own storage, own key pair) and one page.
export async function person(browser, url, { width = 1280, height = 800, waitVerified = true, permissions } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, permissions });
  await context.addInitScript(watchCsp);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/WebSocket connection to .* failed/.test(m.text())) errors.push(`console: ${m.text()}`);
  });
  await page.goto(url, WAIT);
  if (waitVerified) await verified(page);
  const sig = waitVerified ? await page.textContent('#my-sig') : null;
  return { context, page, errors, sig, close: () => context.close() };
}

export const verified = (page) => page.waitForFunction(
  () => document.getElementById('status-text').textContent.includes('VERIFIED'), null, WAIT);

export const cspViolations = (page) => page.evaluate(() => window.__cspViolations);

// Problems a page had: errors, console errors, CSP violations.
export async function problems(p) {
  return [...p.errors, ...(await cspViolations(p.page)).map((v) => `csp: ${v}`)];
}

// ---------------------------------------------------------------- the chat

export const contact = (page, sig) => page.locator(`#contacts li[data-sig="${sig}"]`);

export async function unread(page, sig) {
  const badge = contact(page, sig).locator('.c-unread');
  return (await badge.count()) ? Number((await badge.textContent()).replace(/\D/g, '')) : 0;
}

export async function open(page, sig) {
  await contact(page, sig).locator('button').click();
  await page.waitForFunction((s) => document.getElementById('conv-sig').textContent === s, sig, WAIT);
}

// Types into the message box and presses Enter (Shift+Enter for each new line).
export async function type(page, text) {
  await page.focus('#text');
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (i) await page.keyboard.press('Shift+Enter');
    await page.keyboard.insertText(lines[i]);
  }
  await page.keyboard.press('Enter');
}

// Waits until the last outgoing message with this text is in `state`;
// returns what its delivery line says. (Predicates are functions, not
// strings: the page's CSP forbids the eval that string predicates need.)
export async function waitDelivery(page, text, state, timeout = WAIT.timeout) {
  await page.waitForFunction(([t, s]) => [...document.querySelectorAll('#messages li.msg[data-dir="out"]')].reverse()
    .find((li) => li.querySelector('.text').textContent === t)?.dataset.state === s, [text, state], { timeout });
  return page.evaluate((t) => [...document.querySelectorAll('#messages li.msg[data-dir="out"]')].reverse()
    .find((li) => li.querySelector('.text').textContent === t).querySelector('.delivery').textContent, text);
}

export async function waitIncoming(page, text) {
  await page.waitForFunction((t) => [...document.querySelectorAll('#messages li.msg[data-dir="in"] .text')]
    .some((e) => e.textContent === t), text, WAIT);
}

export const texts = (page, dir) => page.$$eval(`#messages li.msg[data-dir="${dir}"] .text`, (els) => els.map((e) => e.textContent));

// Records each delivery state the next outgoing message goes through.
export async function recordDeliveries(page) {
  await page.evaluate(() => {
    window.__deliveries = [];
    const seen = new WeakMap();
    new MutationObserver(() => {
      for (const li of document.querySelectorAll('#messages li.msg[data-dir="out"]')) {
        const s = li.dataset.state;
        if (seen.get(li) !== s) {
          seen.set(li, s);
          window.__deliveries.push([li.querySelector('.text').textContent, s]);
        }
      }
    }).observe(document.getElementById('messages'), { subtree: true, childList: true, attributes: true, attributeFilter: ['data-state'] });
  });
}
export const deliveries = (page, text) => page.evaluate((t) => window.__deliveries.filter(([x]) => x === t).map(([, s]) => s), text);

// ---------------------------------------------------------------- checks

const require = createRequire(import.meta.url);
const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

// axe-core in the page; returns the serious and critical violations.
export async function axe(page) {
  await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

// Every visible element whose content is wider than its box (clipped or
// scrolled sideways) in the given containers, and the page itself.
export function clipped(page, selectors = ['header.top', '#banner', 'main']) {
  return page.evaluate((sels) => {
    const out = [];
    const root = document.documentElement;
    if (root.scrollWidth > root.clientWidth) out.push(`page: scrollWidth ${root.scrollWidth} > clientWidth ${root.clientWidth}`);
    for (const sel of sels) {
      for (const e of document.querySelectorAll(`${sel}, ${sel} *`)) {
        // Hidden, inline, or hidden on purpose for all but screen readers.
        if (!e.getClientRects().length || e.clientWidth === 0 || e.closest('.visually-hidden')) continue;
        if (e.scrollWidth > e.clientWidth) {
          const name = `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}${e.className && typeof e.className === 'string' ? `.${e.className.split(' ').join('.')}` : ''}`;
          out.push(`${name}: scrollWidth ${e.scrollWidth} > clientWidth ${e.clientWidth} "${e.textContent.slice(0, 40)}"`);
        }
      }
    }
    return out;
  }, selectors);
}
