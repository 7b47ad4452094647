// Debian's nginx and HAProxy in front of the real relay, run from the very
// files in deploy/ with only what a test must change: loopback high ports
// instead of 80/443, a self-signed certificate made here instead of
// /etc/reflector/tls/, the relay's port, the timeouts when a test scales
// them, and the daemon settings (user, chroot, syslog) of a system install.
// Each change must find its text in the deploy file exactly as often as
// expected, so a deploy file that changes shape fails here loudly instead
// of being tested in some other form.
//
// When the tests run as root, the proxies run as nobody (setpriv): what is
// shown works unprivileged.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ROOT, freePort } from '../../node/relay.mjs';

export const DEPLOY = path.join(ROOT, 'deploy');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const isRoot = process.getuid?.() === 0;

function nobodyIds() {
  const uid = Number(spawnSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).stdout.trim());
  const gid = Number(spawnSync('id', ['-g', 'nobody'], { encoding: 'utf8' }).stdout.trim());
  return { uid, gid };
}

// A scratch folder the proxy's user can write; removed by cleanup().
export function workdir(prefix) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `reflector-${prefix}-`));
  if (isRoot) {
    const { uid, gid } = nobodyIds();
    fs.chownSync(dir, uid, gid);
  }
  return dir;
}

function giveToProxyUser(file) {
  if (isRoot) {
    const { uid, gid } = nobodyIds();
    fs.chownSync(file, uid, gid);
  }
}

function unprivileged(cmd, args) {
  if (!isRoot) return [cmd, args];
  const { uid, gid } = nobodyIds();
  return ['setpriv', [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--', cmd, ...args]];
}

// A self-signed P-256 certificate for 127.0.0.1 and localhost in dir/tls/:
// fullchain.pem and privkey.pem (nginx), haproxy.pem (both in one file).
export function makeCertificate(dir) {
  const tls = path.join(dir, 'tls');
  fs.mkdirSync(tls);
  const cert = path.join(tls, 'fullchain.pem');
  const key = path.join(tls, 'privkey.pem');
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
    '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { encoding: 'utf8', timeout: 30000 });
  if (r.status !== 0) throw new Error(`openssl req failed: ${r.stderr}`);
  const both = path.join(tls, 'haproxy.pem');
  fs.writeFileSync(both, fs.readFileSync(cert, 'utf8') + fs.readFileSync(key, 'utf8'));
  for (const f of [tls, cert, key, both]) giveToProxyUser(f);
  return { dir: tls, cert, key, both, pem: fs.readFileSync(cert, 'utf8') };
}

// The deploy file's text with each [from, to, times] applied; `from` must
// occur exactly `times` times (default 1).
export function render(relPath, changes) {
  let text = fs.readFileSync(path.join(DEPLOY, relPath), 'utf8');
  for (const [from, to, times = 1] of changes) {
    const found = text.split(from).length - 1;
    if (found !== times) {
      throw new Error(`deploy/${relPath}: expected ${times} of ${JSON.stringify(from)}, found ${found}; `
        + 'update tests/deploy/lib/proxies.mjs with the file');
    }
    text = text.split(from).join(to);
  }
  return text;
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    const done = (ok) => { clearTimeout(t); s.destroy(); resolve(ok); };
    const t = setTimeout(() => done(false), 500);
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

class Proxy {
  constructor(name, proc, dir, ports, logFile) {
    this.name = name;
    this.proc = proc;
    this.dir = dir;
    Object.assign(this, ports);
    this.logFile = logFile;
    this.out = '';
    this.exitCode = undefined;
    this.exited = new Promise((resolve) => proc.once('exit', (code, signal) => {
      this.exitCode = code ?? signal;
      resolve();
    }));
    proc.stdout.on('data', (d) => { this.out += d; });
    proc.stderr.on('data', (d) => { this.out += d; });
  }

  log() {
    let file = '';
    try { file = fs.readFileSync(this.logFile, 'utf8'); } catch { /* not written yet */ }
    return `${this.out}${file}`;
  }

  async waitListening(ports, timeoutMs = 10000) {
    const deadline = Date.now() + timeoutMs;
    for (const port of ports) {
      while (!(await canConnect(port))) {
        if (this.exitCode !== undefined) throw new Error(`${this.name} exited (${this.exitCode}):\n${this.log()}`);
        if (Date.now() > deadline) throw new Error(`${this.name} is not listening on ${port}:\n${this.log()}`);
        await sleep(50);
      }
    }
  }

  async stop() {
    if (this.exitCode === undefined) {
      this.proc.kill('SIGTERM');
      let timer;
      const timedOut = await Promise.race([
        this.exited.then(() => false),
        new Promise((r) => { timer = setTimeout(() => r(true), 10000); }),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        this.proc.kill('SIGKILL');
        await this.exited;
      }
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

// nginx with deploy/nginx/reflector.conf in front of the relay on
// relayPort; readTimeoutS replaces its proxy_read_timeout and
// proxy_send_timeout (60 s). Resolves with { httpPort, httpsPort, cert, ... }.
export async function startNginx({ relayPort, readTimeoutS = 60 }) {
  const dir = workdir('nginx');
  const cert = makeCertificate(dir);
  const httpPort = await freePort();
  const httpsPort = await freePort();
  const acme = path.join(dir, 'acme');
  fs.mkdirSync(path.join(acme, '.well-known', 'acme-challenge'), { recursive: true });
  fs.writeFileSync(path.join(acme, '.well-known', 'acme-challenge', 'token'), 'challenge answer\n');
  const site = render('nginx/reflector.conf', [
    ['listen 80;', `listen 127.0.0.1:${httpPort};`],
    ['listen [::]:80;', ''],
    ['listen 443 ssl http2 backlog=4096;', `listen 127.0.0.1:${httpsPort} ssl http2 backlog=4096;`],
    ['listen [::]:443 ssl http2 backlog=4096;', ''],
    ['ssl_certificate     /etc/reflector/tls/fullchain.pem;', `ssl_certificate     ${cert.cert};`],
    ['ssl_certificate_key /etc/reflector/tls/privkey.pem;', `ssl_certificate_key ${cert.key};`],
    ['root /var/www/letsencrypt;', `root ${acme};`],
    ['proxy_pass http://127.0.0.1:8080;', `proxy_pass http://127.0.0.1:${relayPort};`],
    ['proxy_read_timeout 60s;', `proxy_read_timeout ${readTimeoutS}s;`],
    ['proxy_send_timeout 60s;', `proxy_send_timeout ${readTimeoutS}s;`],
  ]);
  fs.writeFileSync(path.join(dir, 'reflector.conf'), site);
  // What Debian's /etc/nginx/nginx.conf gives the file: an http block.
  const errorLog = path.join(dir, 'error.log');
  const temp = (name) => `${name}_temp_path ${path.join(dir, name)};`;
  fs.writeFileSync(path.join(dir, 'nginx.conf'), `daemon off;
worker_processes 1;
pid ${path.join(dir, 'nginx.pid')};
error_log ${errorLog} info;
events { worker_connections 256; }
http {
    access_log ${path.join(dir, 'access.log')};
    ${temp('client_body')} ${temp('proxy')} ${temp('fastcgi')} ${temp('uwsgi')} ${temp('scgi')}
    include ${path.join(dir, 'reflector.conf')};
}
`);
  const [cmd, args] = unprivileged('/usr/sbin/nginx', ['-p', dir, '-e', errorLog, '-c', path.join(dir, 'nginx.conf')]);
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
  const proxy = new Proxy('nginx', proc, dir, { httpPort, httpsPort, cert }, errorLog);
  try {
    await proxy.waitListening([httpPort, httpsPort]);
  } catch (e) {
    await proxy.stop();
    throw e;
  }
  return proxy;
}

// The HAProxy config of deploy/haproxy/reflector.cfg for a test, with its
// backend at backendPort, `timeout tunnel` at tunnelS seconds and certbot's
// backend at certbotPort.
export function haproxyConfig({ dir, cert, httpPort, httpsPort, backendPort, tunnelS = 60, certbotPort = 8888 }) {
  return render('haproxy/reflector.cfg', [
    // The daemon settings of a system install: syslog, chroot, user, fork.
    ['log /dev/log local0', 'log stderr format raw local0'],
    ['    chroot /var/lib/haproxy\n', ''],
    ['stats socket /run/haproxy/admin.sock', `stats socket ${path.join(dir, 'admin.sock')}`],
    ['    user haproxy\n    group haproxy\n    daemon\n', ''],
    ['maxconn 100000', 'maxconn 200'],
    ['    bind :80\n', `    bind 127.0.0.1:${httpPort}\n`],
    ['    bind :::80 v6only\n', ''],
    ['    bind :::443 v6only ssl crt /etc/reflector/tls/haproxy.pem alpn h2,http/1.1\n', ''],
    ['    bind :443 ssl crt /etc/reflector/tls/haproxy.pem', `    bind 127.0.0.1:${httpsPort} ssl crt ${cert.both}`],
    ['server relay 127.0.0.1:8080 ', `server relay 127.0.0.1:${backendPort} `],
    ['timeout tunnel 60s', `timeout tunnel ${tunnelS}s`],
    ['server certbot 127.0.0.1:8888', `server certbot 127.0.0.1:${certbotPort}`],
  ]);
}

// HAProxy with deploy/haproxy/reflector.cfg in front of backendPort (the
// relay with --proxy-protocol, or a test's own server).
export async function startHaproxy({ backendPort, tunnelS = 60, certbotPort }) {
  const dir = workdir('haproxy');
  const cert = makeCertificate(dir);
  const httpPort = await freePort();
  const httpsPort = await freePort();
  const cfg = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(cfg, haproxyConfig({ dir, cert, httpPort, httpsPort, backendPort, tunnelS, certbotPort }));
  // -db: foreground, logs (none configured) and alerts to stderr.
  // Its own directory as the working one: HAProxy goes back to the
  // directory it started in after reading the config, which nobody may
  // not enter when the checkout lies under a root-only directory.
  const [cmd, args] = unprivileged('/usr/sbin/haproxy', ['-db', '-f', cfg]);
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
  const proxy = new Proxy('haproxy', proc, dir, { httpPort, httpsPort, cert, cfg }, path.join(dir, 'none'));
  try {
    await proxy.waitListening([httpPort, httpsPort]);
  } catch (e) {
    await proxy.stop();
    throw e;
  }
  return proxy;
}
