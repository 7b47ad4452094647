// The registered part of the soak's traffic (tests/soak/soak.py starts it):
//   - --pairs pairs of registered clients exchanging envelopes both ways,
//     each checked byte for byte on arrival, with acks;
//   - churn: twice a second a fresh key pair connects, registers, sends a few
//     envelopes to a pair member, looks it up (invite3) and leaves;
//   - takeovers: every few seconds one pair member's key registers again on
//     a new connection; the old one must get REPLACED and close 4000.
// Prints JSON lines: {"event":"stats",...} every --report-seconds, then
// {"event":"done",...}. Any envelope not delivered within LOST_MS, any
// unexpected error reply or close counts as an error.
//
// Usage: node traffic.mjs URL --seconds S [--pairs 8] [--interval-ms 50]
//                             [--report-seconds 10]
import nodeCrypto from 'node:crypto';
import { Client, newIdentity, sleep } from '../node/lib/client.mjs';

const [url, ...rest] = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = rest.indexOf(`--${name}`);
  return i >= 0 ? rest[i + 1] : dflt;
};
const seconds = Number(opt('seconds', 60));
const npairs = Number(opt('pairs', 8));
const intervalMs = Number(opt('interval-ms', 50));
const reportMs = Number(opt('report-seconds', 10)) * 1000;
const LOST_MS = 10000;
const emit = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);

const stats = { sent: 0, received: 0, acks: 0, lost: 0, errors: 0, registrations: 0, churn: 0, takeovers: 0,
  lookups: 0 };
const errorSamples = [];
function error(what) {
  stats.errors++;
  if (errorSamples.length < 20) errorSamples.push(what);
}

let stopping = false;
const deadline = Date.now() + seconds * 1000;

// One registered member of a pair: its connection can be replaced (takeover).
class Member {
  constructor(name) {
    this.name = name;
    this.client = null;
    this.pending = new Map(); // id -> { box, at }
    this.peer = null;
  }

  async connect(identity) {
    const c = await Client.registered(url, { identity, timeoutMs: 15000, registerTimeoutMs: 15000 });
    stats.registrations++;
    c.ws.on('message', (data) => this.onMessage(c, data));
    c.ws.on('close', (code) => {
      if (!stopping && !c.replacing) error(`${this.name} closed ${code}`);
    });
    this.client = c;
    return c;
  }

  onMessage(c, data) {
    c.queue.length = 0; // read through this listener only
    let m;
    try { m = JSON.parse(data.toString('utf8')); } catch { error(`${this.name}: unparsable`); return; }
    if (m.handler === 'acceptEnvelop') {
      if (typeof m.id === 'string' && m.id.startsWith('churn-')) return; // from a passing client
      const p = this.peer.pending.get(m.id);
      if (!p || m.box !== p.box || m.to !== this.client.sig) {
        error(`${this.name}: unexpected envelope ${m.id}`);
        return;
      }
      this.peer.pending.delete(m.id);
      stats.received++;
    } else if (m.handler === 'delivered') {
      stats.acks++;
    } else if (m.handler === 'error' && m.error === 'REPLACED' && c.replacing) {
      // the takeover this member started
    } else if (m.handler === 'pong') {
      // keep-alive answer
    } else {
      error(`${this.name}: ${JSON.stringify(m).slice(0, 160)}`);
    }
  }

  send(n) {
    const id = `${this.name}-${n}`;
    const box = nodeCrypto.randomBytes(16 + (n % 64)).toString('hex');
    this.pending.set(id, { box, at: Date.now() });
    this.client.deliver(this.peer.client.sig, box, id);
    stats.sent++;
  }

  expire() {
    for (const [id, p] of this.pending) {
      if (Date.now() - p.at > LOST_MS) {
        this.pending.delete(id);
        stats.lost++;
        error(`${id} lost`);
      }
    }
  }
}

async function runPair(i, members) {
  const a = new Member(`p${i}a`);
  const b = new Member(`p${i}b`);
  a.peer = b;
  b.peer = a;
  const ida = await newIdentity();
  const idb = await newIdentity();
  await a.connect(ida);
  await b.connect(idb);
  members.push(a, b);
  let n = 0;
  let nextTakeover = Date.now() + 3000 + i * 1500;
  while (!stopping && Date.now() < deadline) {
    a.send(n);
    b.send(n);
    n++;
    a.expire();
    b.expire();
    if (Date.now() >= nextTakeover) {
      nextTakeover = Date.now() + 5000 + npairs * 1000;
      // Quiesce, then a new connection takes the key over.
      const until = Date.now() + LOST_MS;
      while ((a.pending.size || b.pending.size) && Date.now() < until) await sleep(10);
      const old = a.client;
      old.replacing = true;
      await a.connect(ida);
      try {
        const info = await old.waitClosed(5000);
        if (info.code !== 4000) error(`takeover: old closed ${info.code}`);
      } catch (e) {
        error(`takeover: ${e.message}`);
      }
      stats.takeovers++;
    }
    await sleep(intervalMs);
  }
  const until = Date.now() + 3000;
  while ((a.pending.size || b.pending.size) && Date.now() < until) await sleep(20);
  a.expire();
  b.expire();
  stats.lost += a.pending.size + b.pending.size;
}

async function churn(members) {
  let k = 0;
  while (!stopping && Date.now() < deadline) {
    const started = Date.now();
    try {
      const c = await Client.registered(url, { timeoutMs: 15000, registerTimeoutMs: 15000 });
      stats.registrations++;
      const target = members.length ? members[k % members.length] : null;
      if (target && target.client) {
        for (let j = 0; j < 3; j++) c.deliver(target.client.sig, 'c0ffee', `churn-${k}-${j}`);
        c.send({ handler: 'invite3', publicKeySig: target.client.sig });
        const inv = await c.next((m) => m.handler === 'invite4', 5000);
        if (inv.publicKeySig !== target.client.sig) error(`churn: invite4 ${JSON.stringify(inv).slice(0, 120)}`);
        stats.lookups++;
        for (let j = 0; j < 3; j++) {
          const ack = await c.next((m) => m.id === `churn-${k}-${j}`, 5000);
          // A takeover leaves no gap: the SIG is always registered.
          if (ack.handler !== 'delivered') error(`churn ack ${JSON.stringify(ack)}`);
        }
      }
      await c.close(2000);
      stats.churn++;
    } catch (e) {
      error(`churn: ${e.message}`);
    }
    k++;
    await sleep(Math.max(0, 500 - (Date.now() - started)));
  }
}

async function main() {
  const members = [];
  const reporter = setInterval(() => emit({ event: 'stats', ...stats }), reportMs);
  const pairs = Promise.all(Array.from({ length: npairs }, (_, i) => runPair(i, members)));
  const churnTask = churn(members);
  await pairs;
  stopping = true;
  await churnTask;
  clearInterval(reporter);
  emit({ event: 'done', ...stats, errorSamples });
  await Promise.all(members.map((m) => m.client && m.client.close(2000)));
  process.exit(0);
}

process.on('SIGTERM', () => { stopping = true; });
main().catch((e) => {
  errorSamples.push(`traffic failed: ${e.stack}`);
  emit({ event: 'done', ...stats, errors: stats.errors + 1, errorSamples });
  process.exit(1);
});
