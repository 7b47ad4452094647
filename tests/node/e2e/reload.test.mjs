// SIGHUP reloads of the settings that only registered clients can show:
// --rate, --on-duplicate and the crypto pool's admission limits. Each is
// changed in the config file, the relay gets SIGHUP, and the new value is
// seen to hold (and, under the TSan build, the hand-over to the shards
// and the pool is checked for races). The Python suite tests/integration/
// test_reload.py covers the others.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, newIdentity, makeRegister3, sleep } from '../lib/client.mjs';
import { withRelay, expectRefused, expectOpen, closeAll, relayHasFlag } from '../lib/harness.mjs';

// The baseline peer (bench/peer) runs these files too; it has no config file.
const skip = relayHasFlag('--config') ? false : 'the binary has no --config';

function confFile(t) {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'reflector-')), 'reflector.conf');
  t.after(() => fs.rmSync(path.dirname(file), { recursive: true, force: true }));
  return file;
}

// Writes the settings, sends SIGHUP and waits for the outcome in the log.
async function reload(r, file, text) {
  fs.writeFileSync(file, text);
  const before = (r.out.match(/reload (done|refused)/g) || []).length;
  r.proc.kill('SIGHUP');
  const deadline = Date.now() + 10000;
  while (Date.now() < deadline) {
    const lines = r.out.split('\n').filter((l) => /reload (done|refused)/.test(l));
    if (lines.length > before) {
      assert.match(lines[before], /reload done/, r.out);
      return;
    }
    await sleep(20);
  }
  throw new Error(`no reload outcome: ${r.out}`);
}

// n envelopes at once from A to B: how many were delivered.
async function burst(A, B, n, tag) {
  for (let i = 0; i < n; i++) A.deliver(B.sig, 'abcd', `${tag}${i}`);
  let delivered = 0;
  for (let i = 0; i < n; i++) {
    const m = await A.next((x) => typeof x.id === 'string' && x.id.startsWith(tag), 10000);
    if (m.handler === 'delivered') delivered++;
    else assert.equal(m.error, 'RATE_LIMITED');
  }
  return delivered;
}

test('reload: --rate 1000 -> 5, the next burst is held to 2 x 5', { skip }, async (t) => {
  const file = confFile(t);
  fs.writeFileSync(file, 'rate = 1000\n');
  await withRelay(['--config', file], async (r) => {
    const A = await Client.registered(r.url);
    const B = await Client.registered(r.url);
    try {
      assert.equal(await burst(A, B, 30, 'a'), 30);
      await reload(r, file, 'rate = 5\n');
      const delivered = await burst(A, B, 30, 'b');
      // The bucket holds at most 2 x 5 now, plus what refills meanwhile.
      assert.ok(delivered >= 1 && delivered <= 12, `${delivered} delivered`);
      await expectOpen(A, 'rate-limited sender');
    } finally {
      await closeAll([A, B]);
    }
  }, { logLevel: 'info' });
});

test('reload: --on-duplicate replace -> reject, a second registration of a SIG gets SIG_IN_USE', { skip }, async (t) => {
  const file = confFile(t);
  fs.writeFileSync(file, 'on-duplicate = replace\n');
  await withRelay(['--config', file], async (r) => {
    const identity = await newIdentity();
    const first = await Client.registered(r.url, { identity });
    // replace: a second connection with the key takes the SIG over.
    const second = await Client.registered(r.url, { identity });
    const clients = [first, second];
    try {
      await first.next((m) => m.handler === 'error' && m.error === 'REPLACED');
      await reload(r, file, 'on-duplicate = reject\n');
      const third = await Client.connect(r.url, { identity });
      clients.push(third);
      third.send(await makeRegister3(identity, third.register2));
      await expectRefused(third, 'SIG_IN_USE');
      await expectOpen(second, 'the holder of the SIG');
    } finally {
      await closeAll(clients);
    }
  }, { logLevel: 'info' });
});

// n connections with fresh keys send their register3 at the same moment:
// the register4 answers by outcome.
async function registerAtOnce(url, n) {
  const clients = await Promise.all(Array.from({ length: n }, () => Client.connect(url)));
  const proofs = await Promise.all(clients.map((c) => makeRegister3(c.identity, c.register2)));
  clients.forEach((c, i) => c.send(proofs[i]));
  const answers = await Promise.all(clients.map((c) => c.next((m) => m.handler === 'register4', 10000)));
  await closeAll(clients);
  const count = (what) => answers.filter((a) => (a.error ?? a.state2) === what).length;
  return { verified: count('VERIFIED'), busy: count('BUSY'), other: n - count('VERIFIED') - count('BUSY') };
}

test('reload: the crypto pool admission limits (--max-registrations-per-ip, --registration-rate-per-ip)', { skip }, async (t) => {
  const file = confFile(t);
  fs.writeFileSync(file, 'max-registrations-per-ip = 64\nregistration-rate-per-ip = 100\n');
  await withRelay(['--config', file], async (r) => {
    assert.deepEqual(await registerAtOnce(r.url, 8), { verified: 8, busy: 0, other: 0 });
    // One proof in flight per address: the others sent with it are BUSY.
    await reload(r, file, 'max-registrations-per-ip = 1\nregistration-rate-per-ip = 100\n');
    let res = await registerAtOnce(r.url, 8);
    assert.ok(res.busy >= 1 && res.verified >= 1 && res.other === 0, JSON.stringify(res));
    // One proof a second, bursts of 2: of 8 at once, at most 3 go through.
    await reload(r, file, 'max-registrations-per-ip = 64\nregistration-rate-per-ip = 1\n');
    await sleep(2100); // a full bucket
    res = await registerAtOnce(r.url, 8);
    assert.ok(res.verified >= 2 && res.verified <= 3 && res.busy === 8 - res.verified, JSON.stringify(res));
  }, { logLevel: 'info' });
});
