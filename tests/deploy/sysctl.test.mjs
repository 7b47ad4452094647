// deploy/sysctl/60-reflector.conf: every setting names a kernel parameter
// this kernel has, with numbers for values, and says why above it (or
// above its group). (The
// values are not applied: fs.* would change the machine the tests run on.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { DEPLOY } from './lib/proxies.mjs';

const lines = fs.readFileSync(path.join(DEPLOY, 'sysctl', '60-reflector.conf'), 'utf8').split('\n');

test('sysctl: each setting is a parameter of this kernel, with numeric values and a comment saying why', () => {
  const set = [];
  lines.forEach((line, i) => {
    if (!line.trim() || line.startsWith('#')) return;
    const m = /^([a-z0-9_.-]+) = ([0-9]+(?: [0-9]+)*)$/.exec(line);
    assert.ok(m, `line ${i + 1}: not "name = numbers": ${line}`);
    assert.ok(fs.existsSync(path.join('/proc/sys', ...m[1].split('.'))), `${m[1]}: no such parameter`);
    // A comment above it, or above the group of settings it belongs to.
    let above = i - 1;
    while (above >= 0 && /^[a-z]/.test(lines[above])) above--;
    assert.ok(lines[above]?.startsWith('#'), `${m[1]}: no comment above it`);
    set.push(m[1]);
  });
  for (const name of ['net.core.somaxconn', 'fs.file-max', 'net.ipv4.ip_local_port_range', 'net.ipv4.tcp_mem']) {
    assert.ok(set.includes(name), `${name} is set`);
  }
});
