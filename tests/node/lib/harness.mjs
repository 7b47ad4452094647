// Shared pieces of the e2e tests: relays with options, flag discovery,
// and the assertions every registration refusal shares.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Relay, binary } from '../relay.mjs';
import { Client } from './client.mjs';

let helpText;
// The relay's --help text (cached); '' if it cannot be run.
export function relayHelp() {
  if (helpText === undefined) {
    const r = spawnSync(binary(), ['--help'], { encoding: 'utf8', timeout: 5000 });
    helpText = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  }
  return helpText;
}

export function relayHasFlag(flag) {
  return new RegExp(`(^|\\s)${flag.replace(/[-]/g, '\\-')}(\\s|=|$)`, 'm').test(relayHelp());
}

// Runs fn(relay) against a relay started with args; always stops it, and
// fails the test if the relay crashed or a sanitizer spoke.
export async function withRelay(args, fn, opts = {}) {
  const relay = await Relay.start(args, opts);
  let failed = false;
  try {
    return await fn(relay);
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    try {
      await relay.stop();
    } catch (e) {
      if (!failed) throw e; // the first failure is the one to see
    }
  }
}

// A register4 UNVERIFIED with `code`, then close 1008.
export async function expectRefused(client, code, { timeoutMs = 5000, what = code } = {}) {
  const r4 = await client.next((m) => m.handler === 'register4', timeoutMs);
  assert.deepEqual(r4, { handler: 'register4', state2: 'UNVERIFIED', error: code }, what);
  const { code: closeCode } = await client.waitClosed(timeoutMs);
  assert.equal(closeCode, 1008, `${what}: close code`);
}

// The connection still answers: a ping round trip.
export async function expectOpen(client, what = 'connection') {
  assert.equal(client.closeInfo, null, `${what} closed: ${JSON.stringify(client.closeInfo)}`);
  const { pong } = await client.ping(`alive-${Math.random()}`);
  assert.equal(pong.handler, 'pong', what);
}

// Closes every client, bounded, ignoring the ones already gone.
export async function closeAll(clients) {
  await Promise.all(clients.filter(Boolean).map((c) => c.close(2000).catch(() => c.terminate())));
}

export { Relay, Client };
