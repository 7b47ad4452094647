// `reflector-bench report`: the page rendered in headless Chromium (Debian's,
// through playwright-core as tests/browser/ does), with nothing fetched, and
// the numbers it shows read back against the results it was made from.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM } from '../browser/lib/www.mjs';
import { ROOT } from '../node/relay.mjs';
import { BENCH, benchOk, keysFor, startRelay, tmpdir } from './lib/bench.mjs';

const KEYS = ['--keys', keysFor('report')];
let dir;
let runs;
let page;
let browser;
const requests = [];
const problems = [];

// "12,345" -> 12345; "3.21 ms" -> 3210 (us); "-" -> null.
function shown(text) {
  const t = text.trim();
  if (t === '-') return null;
  const m = t.match(/^([\d.,]+)(?: (µs|ms|s))?$/);
  assert.ok(m, `not a number: ${JSON.stringify(t)}`);
  const v = Number(m[1].replace(/,/g, ''));
  return m[2] === 'ms' ? v * 1e3 : m[2] === 's' ? v * 1e6 : v;
}

before(async () => {
  dir = tmpdir('report');
  const relay = await startRelay();
  try {
    // Two runs to compare: a closed loop ("before") and an open loop ("after").
    const closed = await benchOk(['route', '--url', relay.url, '--clients', '20', '--window', '4', '--duration', '1.5',
      '--warmup', '0.3', '--target', 'relay', ...KEYS], dir);
    const open = await benchOk(['route', '--url', relay.url, '--clients', '20', '--rate', '3000', '--duration', '1.5',
      '--warmup', '0.3', ...KEYS], dir);
    runs = { before: closed, after: open };
  } finally {
    await relay.stop();
  }
  const html = path.join(dir, 'report.html');
  const r = spawnSync(BENCH, ['report', `before=${runs.before.json}`, `after=${runs.after.json}`, '-o', html],
    { encoding: 'utf8', timeout: 10000 });
  assert.equal(r.status, 0, r.stderr);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('request', (q) => requests.push(q.url()));
  page.on('pageerror', (e) => problems.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  await page.goto(`file://${html}`);
  await page.waitForFunction(() => document.body.dataset.ready === '1', null, { timeout: 10000 });
  // For people to look at: build/bench/report-test.png.
  await page.screenshot({ path: path.join(ROOT, 'build', 'bench', 'report-test.png'), fullPage: true });
});
after(async () => {
  await browser?.close();
});

test('report: the page loads nothing but itself, and its script runs without an error', () => {
  assert.deepEqual(problems, []);
  assert.equal(requests.length, 1, requests.join('\n'));
  assert.match(requests[0], /^file:\/\//);
  const html = fs.readFileSync(path.join(dir, 'report.html'), 'utf8');
  assert.doesNotMatch(html, /<script[^>]+src=|<link[^>]+href=|@import|url\(/);
});

test('report: the summary shows each run\'s figures as its JSON has them', async () => {
  for (const [label, run] of Object.entries(runs)) {
    const [res] = run.results;
    const cells = await page.$$eval(`#summary tr[data-run="${label}"][data-scenario="route"] td[data-key]`,
      (tds) => Object.fromEntries(tds.map((td) => [td.dataset.key, td.textContent])));
    assert.equal(shown(cells.clients), res.clients);
    assert.equal(shown(cells.msgs_per_s), Math.round(res.msgs_per_s));
    assert.equal(shown(cells.registrations_per_s), null);
    assert.equal(shown(cells.error_count), 0);
    // Latencies with three significant digits.
    for (const k of ['p50_us', 'p90_us', 'p99_us', 'p999_us', 'p9999_us', 'max_us']) {
      const v = shown(cells[k]);
      assert.ok(Math.abs(v - res[k]) <= res[k] * 0.006, `${label} ${k}: page ${cells[k]}, JSON ${res[k]}`);
    }
  }
});

test('report: the charts draw one line per run, over time and by percentile', async () => {
  for (const chart of ['route-throughput', 'route-p99', 'route-percentiles', 'route-connections']) {
    const labels = await page.$$eval(`[data-chart="${chart}"] path.series`, (ps) => ps.map((p) => p.dataset.label));
    assert.deepEqual(labels.map((l) => l.replace(/ registered$/, '')), ['before', 'after'], chart);
  }
  const ticks = await page.$$eval('[data-chart="route-percentiles"] text', (ts) => ts.map((t) => t.textContent));
  for (const t of ['50%', '90%', '99%', '99.9%']) assert.ok(ticks.includes(t), ticks.join(' '));
  // A point per row of each run's series, and per bucket of its histogram.
  for (const [label, run] of Object.entries(runs)) {
    const [res] = run.results;
    const points = async (chart) => page.$eval(`[data-chart="${chart}"] path.series[data-label="${label}"]`,
      (p) => p.getAttribute('d').split(/[ML]/).filter(Boolean).length);
    assert.equal(await points('route-throughput'), res.series.rows.length, label);
    assert.equal(await points('route-percentiles'), res.histogram.buckets.length, label);
  }
});

test('report: the settings of each run side by side', async () => {
  const head = await page.$$eval('#settings tr:first-child th', (ths) => ths.map((th) => th.textContent.trim()));
  assert.deepEqual(head.slice(1), ['before', 'after']);
  const rate = await page.$$eval('#settings tr[data-key="rate"] td', (tds) => tds.map((td) => td.textContent));
  assert.deepEqual(rate, ['rate', '-', '3000']);
  const url = await page.$$eval('#settings tr[data-key="url"] td', (tds) => tds.map((td) => td.textContent));
  assert.match(url[1], /^ws:\/\/127\.0\.0\.1:\d+\/$/);
});

test('report: a file that is not a results file is refused; no file, exit 2', () => {
  const bad = path.join(dir, 'bad.json');
  fs.writeFileSync(bad, '[1,2]');
  let r = spawnSync(BENCH, ['report', bad, '-o', path.join(dir, 'x.html')], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /not a reflector-bench results file/);
  r = spawnSync(BENCH, ['report'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
});
