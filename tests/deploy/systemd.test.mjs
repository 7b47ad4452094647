// deploy/systemd/reflector.service: systemd-analyze accepts it, its
// hardening leaves the relay what it needs (io_uring first), and its limits
// agree with the relay's flags in ExecStart. No systemd runs the relay here
// (the tests run without systemd as PID 1), so the filter is checked
// instead: every system call a traced run of the relay makes (strace -f)
// must be in the filter as systemd-analyze's own groups expand it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { binary, freePort } from '../node/relay.mjs';
import { sleep } from '../node/lib/client.mjs';
import { WWW } from '../browser/lib/www.mjs';
import { DEPLOY } from './lib/proxies.mjs';
import { exchange } from './lib/checks.mjs';

const UNIT = path.join(DEPLOY, 'systemd', 'reflector.service');
const INSTALLED_BINARY = '/usr/local/bin/reflector';
const text = fs.readFileSync(UNIT, 'utf8');

function analyze(...args) {
  const r = spawnSync('systemd-analyze', args, { encoding: 'utf8', timeout: 30000 });
  if (r.error) throw r.error;
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

// key -> [values], continuation lines joined, comments dropped.
function settings(unitText) {
  const map = new Map();
  for (const line of unitText.replace(/\\\n\s*/g, ' ').split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (m) map.set(m[1], [...(map.get(m[1]) ?? []), m[2].trim()]);
  }
  return map;
}

function flag(execStart, name) {
  const m = new RegExp(`${name}[ =](\\S+)`).exec(execStart);
  return m ? m[1] : undefined;
}

const groups = new Map();
// The system calls of a filter item: a name, or a group expanded the way
// systemd-analyze lists it (nested groups included).
function syscallsOf(item) {
  if (!item.startsWith('@')) return [item];
  if (!groups.has(item)) {
    const r = analyze('syscall-filter', item);
    assert.equal(r.status, 0, r.out);
    const members = r.out.split('\n').map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#') && l !== item);
    groups.set(item, members.flatMap(syscallsOf));
  }
  return groups.get(item);
}

// What a unit's SystemCallFilter= lines let through: an allow-list first,
// then `~` lines taking calls away.
function allowedSyscalls(unitText) {
  const lines = settings(unitText).get('SystemCallFilter') ?? [];
  assert.ok(lines.length > 0 && !lines[0].startsWith('~'), 'the first SystemCallFilter= is an allow-list');
  const allowed = new Set();
  for (const line of lines) {
    const deny = line.startsWith('~');
    for (const item of line.replace(/^~/, '').split(/\s+/).filter(Boolean)) {
      for (const call of syscallsOf(item)) {
        if (deny) allowed.delete(call);
        else allowed.add(call);
      }
    }
  }
  return allowed;
}

// The system calls the relay makes: keygen (ExecStartPre), then a run with
// ExecStart's flags: two registered clients exchanging envelopes, /healthz,
// a static file and SIGTERM's drain, all under strace -f.
async function relaySyscalls() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reflector-strace-'));
  const calls = new Set();
  const collect = (file) => {
    for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
      const m = /^\d+\s+(?:<\.\.\. )?([a-z0-9_]+)[( ]/.exec(line);
      if (m) calls.add(m[1]);
    }
  };
  try {
    const key = path.join(dir, 'server.pem');
    const keygen = spawnSync('strace', ['-f', '-qq', '-o', path.join(dir, 'keygen.trace'), binary(), 'keygen', key],
      { encoding: 'utf8', timeout: 30000 });
    assert.equal(keygen.status, 0, keygen.stderr);
    collect(path.join(dir, 'keygen.trace'));

    // ExecStart's own flags, with this test's port, key and web root.
    const port = await freePort();
    const args = settings(text).get('ExecStart')[0].split(/\s+/).slice(1);
    const replace = { '--listen': `127.0.0.1:${port}`, '--key': key, '--www': WWW };
    for (let i = 0; i < args.length; i++) if (replace[args[i]]) args[i + 1] = replace[args[i]];
    const trace = path.join(dir, 'run.trace');
    const proc = spawn('strace', ['-f', '-qq', '-o', trace, binary(), ...args, '--threads', '2',
      '--crypto-threads', '2'], { stdio: 'ignore' });
    const exited = new Promise((r) => proc.once('exit', r));
    try {
      const url = `ws://127.0.0.1:${port}/`;
      const deadline = Date.now() + 20000;
      for (;;) {
        try {
          await exchange(url);
          break;
        } catch (e) {
          if (Date.now() > deadline) throw e;
          await sleep(200);
        }
      }
      for (const p of ['/healthz', '/index.html']) {
        const res = await fetch(`http://127.0.0.1:${port}${p}`);
        assert.equal(res.status, 200, p);
        await res.text();
      }
    } finally {
      // SIGTERM to the relay itself (strace's child): its drain, as systemd stops it.
      const children = fs.readFileSync(`/proc/${proc.pid}/task/${proc.pid}/children`, 'utf8').trim().split(/\s+/);
      for (const pid of children.filter(Boolean)) process.kill(Number(pid), 'SIGTERM');
      let timer;
      const timedOut = await Promise.race([exited.then(() => false),
        new Promise((r) => { timer = setTimeout(() => r(true), 20000); })]);
      clearTimeout(timer);
      if (timedOut) proc.kill('SIGKILL');
    }
    collect(trace);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return calls;
}

test('systemd: systemd-analyze verify passes, ExecStart pointed at the built binary', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reflector-unit-'));
  try {
    const unit = path.join(dir, 'reflector.service');
    const n = text.split(INSTALLED_BINARY).length - 1;
    assert.equal(n, 3, `${INSTALLED_BINARY} in the header, ExecStartPre and ExecStart`);
    fs.writeFileSync(unit, text.split(INSTALLED_BINARY).join(path.resolve(binary())));
    const r = analyze('verify', unit);
    assert.equal(r.status, 0, r.out);
    assert.equal(r.out.trim(), '');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('systemd: systemd-analyze verify of the file as shipped: nothing but a binary not yet installed', () => {
  const r = analyze('verify', UNIT);
  if (fs.existsSync(INSTALLED_BINARY)) {
    assert.equal(r.status, 0, r.out);
    assert.equal(r.out.trim(), '');
    return;
  }
  const complaints = r.out.trim().split('\n').filter(Boolean);
  assert.ok(complaints.length > 0, 'verify must notice the missing binary');
  for (const line of complaints) {
    assert.match(line, /Command \/usr\/local\/bin\/reflector is not executable: No such file or directory/);
  }
});

test('systemd: the system call filter allows every call the relay makes (io_uring_* among them)',
  { timeout: 90000 }, async () => {
    const allowed = allowedSyscalls(text);
    const used = await relaySyscalls();
    for (const call of ['io_uring_setup', 'io_uring_enter', 'io_uring_register', 'setpriority']) {
      assert.ok(used.has(call), `the traced run made no ${call}: ${[...used].join(' ')}`);
    }
    const denied = [...used].filter((c) => !allowed.has(c));
    assert.deepEqual(denied, [], `filtered out: ${denied.join(' ')}`);
    // The check can fail: the same unit with @aio (io_uring's group) denied.
    const broken = allowedSyscalls(text.replace('SystemCallFilter=~@privileged', 'SystemCallFilter=~@privileged @aio'));
    assert.ok(!broken.has('io_uring_enter') && !broken.has('io_uring_setup'));
  });

test('systemd: limits agree with ExecStart\'s flags; reload is SIGHUP; a dynamic user owns the key', () => {
  const s = settings(text);
  const one = (key) => {
    assert.equal(s.get(key)?.length, 1, `${key}= once`);
    return s.get(key)[0];
  };
  const exec = one('ExecStart');
  const maxConns = Number(flag(exec, '--max-conns'));
  const drain = Number(flag(exec, '--drain-timeout'));
  assert.ok(maxConns > 0 && drain > 0, exec);
  assert.ok(Number(one('LimitNOFILE')) >= maxConns + 1024, 'LimitNOFILE >= --max-conns + 1024');
  assert.ok(parseInt(one('TimeoutStopSec'), 10) > drain, 'TimeoutStopSec > --drain-timeout');
  assert.equal(one('Type'), 'simple');
  assert.equal(one('ExecReload'), '/bin/kill -HUP $MAINPID');
  assert.equal(one('KillSignal'), 'SIGTERM');
  assert.equal(one('DynamicUser'), 'yes');
  assert.equal(one('StateDirectory'), 'reflector');
  assert.equal(flag(exec, '--key'), '/var/lib/reflector/server.pem');
  assert.equal(flag(exec, '--listen'), '127.0.0.1:8080');
  const families = one('RestrictAddressFamilies').split(/\s+/);
  assert.ok(families.includes('AF_INET') && families.includes('AF_INET6'), families.join(' '));
  for (const key of ['ProtectSystem', 'NoNewPrivileges', 'PrivateTmp', 'ProtectHome', 'PrivateDevices']) {
    assert.ok(s.has(key), `${key}= is set`);
  }
  assert.equal(one('ProtectSystem'), 'strict');
});

test('systemd: systemd-analyze security rates the unit 2.0 or better (exposure, lower is safer)', () => {
  const r = analyze('security', '--offline=yes', UNIT);
  const m = /Overall exposure level for reflector\.service: ([0-9.]+)/.exec(r.out);
  assert.ok(m, r.out.slice(-2000));
  assert.ok(Number(m[1]) <= 2.0, `exposure ${m[1]}`);
});
