// The web root that `make www` assembles (build/www), a plain static file
// server for it (to load the page while no relay runs), and headless
// Chromium run the way the README tells operators to run it.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../../node/relay.mjs';

export const WWW = path.join(ROOT, 'build', 'www');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

// Flags from the README: without --disable-background-networking Chromium's
// own connections are refused on a closed network and slow it down.
export const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run',
];

export function requireWww() {
  for (const f of ['index.html', 'app.js', 'client/client.js', 'vendor/webcryptobox.js', 'vendor/qr/index.js']) {
    if (!fs.existsSync(path.join(WWW, f))) throw new Error(`${path.join(WWW, f)} missing: run make www`);
  }
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: run make deps (Debian package chromium)`);
}

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };

// Serves dir on a free loopback port; resolves with { port, close() }.
export function serveStatic(dir) {
  const server = http.createServer((req, res) => {
    const rel = decodeURIComponent(new URL(req.url, 'http://x').pathname).replace(/\/$/, '/index.html');
    const file = path.join(dir, path.normalize(rel));
    if (!file.startsWith(dir + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve({
      port: server.address().port,
      close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
    }));
  });
}

// The README's operator command: the DOM after a 10 s virtual-time budget.
// extraFlags: more Chromium flags for this run only.
export function dumpDom(url, { budgetMs = 10000, timeoutMs = 60000, extraFlags = [] } = {}) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'reflector-chromium-'));
  const args = [...CHROMIUM_FLAGS, ...extraFlags, `--user-data-dir=${profile}`, `--virtual-time-budget=${budgetMs}`,
    '--dump-dom', url];
  return new Promise((resolve, reject) => {
    execFile(CHROMIUM, args, { timeout: timeoutMs, maxBuffer: 8 << 20 }, (err, stdout, stderr) => {
      fs.rmSync(profile, { recursive: true, force: true });
      if (err) reject(new Error(`chromium failed (${err.code ?? err.signal}): ${String(stderr).slice(-2000)}`));
      else resolve(stdout);
    });
  });
}

export function titleOf(html) {
  const m = /<title>([^<]*)<\/title>/.exec(html);
  return m ? m[1].replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>') : null;
}
