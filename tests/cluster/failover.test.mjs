// The NATS cluster failing under the relays: one server killed with SIGKILL
// (the relays on it fail over to the others, nothing reordered), then every
// server down (local traffic goes on, remote envelopes get BUS_UNAVAILABLE)
// and back (the relays reconnect and subscribe their SIGs again).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, sleep } from '../node/lib/client.mjs';
import { useCluster, startNode, busUp, reachable } from './lib/cluster.mjs';

const cluster = useCluster(2);
const { nodes } = cluster;

const isAccept = (m) => m.handler === 'acceptEnvelop';

// Sends numbered envelopes from A to B every few ms while `during` runs,
// then until B has received `tail` more in a row; returns what B got and
// how each was answered.
async function stream(A, B, during, { tail = 50, gapMs = 4, limitMs = 20000 } = {}) {
  const got = [];
  const answers = new Map();
  const onB = (d) => { const m = JSON.parse(d.toString()); if (m.handler === 'acceptEnvelop') got.push(parseInt(m.box, 16)); };
  const onA = (d) => { const m = JSON.parse(d.toString()); answers.set(m.id, m.handler === 'delivered' ? 'delivered' : m.error); };
  B.ws.on('message', onB);
  A.ws.on('message', onA);
  let stop = false;
  let sent = 0;
  const sender = (async () => {
    const deadline = Date.now() + limitMs;
    while (!stop && Date.now() < deadline) {
      A.deliver(B.sig, sent.toString(16).padStart(8, '0'), sent);
      sent++;
      await sleep(gapMs);
    }
  })();
  await during();
  const mark = sent;
  const deadline = Date.now() + limitMs;
  while (Date.now() < deadline && got.filter((x) => x >= mark).length < tail) await sleep(20);
  stop = true;
  await sender;
  await sleep(200);
  B.ws.off('message', onB);
  A.ws.off('message', onA);
  return { got, answers, sent, mark };
}

test('kill -9 of the NATS servers a relay is on (one or two of three): it fails over, traffic resumes, nothing reordered', async () => {
  const A = await Client.registered(nodes[0].url);
  const B = await Client.registered(nodes[1].url);
  let victims = [];
  try {
    await reachable(A, B.sig);
    await reachable(B, A.sig);
    // The servers node 0's shards are connected to (cnats picks one of the
    // URLs at random): at most two of the three.
    const ports = new Set([...nodes[0].out.matchAll(/NATS connected to nats:\/\/127\.0\.0\.1:(\d+)/g)].map((m) => +m[1]));
    victims = cluster.nats.servers.map((s, i) => [s, i]).filter(([s]) => ports.has(s.port)).map(([, i]) => i);
    assert.ok(victims.length >= 1 && victims.length <= 2, `node 0 on servers ${[...ports]}`);
    const { got, answers, mark } = await stream(A, B, async () => {
      await sleep(300);
      await Promise.all(victims.map((i) => cluster.nats.servers[i].kill('SIGKILL')));
      await sleep(300);
    });
    // The relay did lose its server and connect to another one.
    assert.match(nodes[0].out, /NATS connection lost/);
    assert.ok((nodes[0].out.match(/NATS connected to/g) || []).length >= 3, nodes[0].out);
    for (let i = 1; i < got.length; i++) assert.ok(got[i] > got[i - 1], `reordered or doubled: ${got[i - 1]} then ${got[i]}`);
    assert.ok(got.filter((x) => x >= mark).length >= 50, `traffic did not resume: ${got.length} received`);
    // Answers: delivered; BUS_UNAVAILABLE while node 0 reconnected;
    // RECIPIENT_NOT_AVAILABLE while node 1 did (B's subscription is gone
    // until it has); none for an envelope or an ack written into the dead
    // server's socket (at most once). An envelope B received never got an
    // error, and none was received twice (checked above).
    const codes = new Set(answers.values());
    for (const c of codes) {
      assert.ok(['delivered', 'BUS_UNAVAILABLE', 'RECIPIENT_NOT_AVAILABLE'].includes(c), `unexpected answer ${c}`);
    }
    for (const n of got) {
      assert.ok([undefined, 'delivered'].includes(answers.get(n)), `${n} received but answered ${answers.get(n)}`);
    }
    const delivered = [...answers.values()].filter((c) => c === 'delivered').length;
    assert.ok(delivered >= got.length - 5, `${got.length} received, ${delivered} acked`);
  } finally {
    A.terminate();
    B.terminate();
  }
  for (const i of victims) await cluster.nats.restart(i);
});

// GET /readyz of a relay node: its status and first line.
async function readyz(node) {
  const res = await fetch(`http://127.0.0.1:${node.port}/readyz`, { signal: AbortSignal.timeout(2000) });
  return { status: res.status, body: (await res.text()).trim() };
}

test('all NATS servers down: local envelopes go on, remote ones get BUS_UNAVAILABLE; '
  + 'when they return the relays reconnect and their SIGs are reachable again', async () => {
  const A = await Client.registered(nodes[0].url);
  const L = await Client.registered(nodes[0].url);
  const B = await Client.registered(nodes[1].url);
  try {
    await reachable(A, B.sig);
    await reachable(B, A.sig);
    assert.deepEqual(await readyz(nodes[0]), { status: 200, body: 'ready' });
    await Promise.all(cluster.nats.servers.map((s) => s.kill('SIGKILL')));
    // Local: untouched, the very next envelope.
    A.deliver(L.sig, 'aa', 'local');
    await L.next(isAccept);
    assert.deepEqual(await A.next(), { handler: 'delivered', id: 'local' });
    // Remote: BUS_UNAVAILABLE once the relay has seen its connection go.
    let m;
    // (One written into a dying server's socket before the relay saw it
    // close gets no answer at all: at most once.)
    for (let i = 0; i < 50; i++) {
      A.deliver(B.sig, 'bb', `down${i}`);
      m = await A.next((x) => x.id === `down${i}`, 500).catch(() => ({}));
      if (m.error === 'BUS_UNAVAILABLE') break;
      await sleep(20);
    }
    assert.deepEqual(m, { handler: 'error', error: 'BUS_UNAVAILABLE', to: B.sig, id: m.id });
    A.send({ handler: 'invite3', publicKeySig: B.sig });
    assert.deepEqual(await A.next(), { handler: 'invite4', publicKeySig: B.sig, error: 'BUS_UNAVAILABLE' });
    // A balancer stops sending new tabs to a node cut off from the others.
    assert.deepEqual(await readyz(nodes[0]), { status: 503, body: 'nats down' });
    // Back: same ports; each relay reconnects and subscribes its SIGs again.
    for (let i = 0; i < cluster.nats.servers.length; i++) cluster.nats.servers[i].start(cluster.nats.servers[i].routes);
    await Promise.all(cluster.nats.servers.map((s) => s.routesUp(2)));
    await reachable(A, B.sig, 10000);
    await reachable(B, A.sig, 10000);
    A.deliver(B.sig, await A.encryptTo(B.publicKeyPem, 'after the outage'), 'back');
    // An envelope cnats had buffered as the servers died goes out when they
    // are back, before this one ('bb': skipped).
    const { msg } = await B.nextRaw((x) => isAccept(x) && x.box !== 'bb');
    assert.equal(await B.decryptFrom(A.publicKeyPem, msg.box), 'after the outage');
    assert.deepEqual(await A.next((x) => x.id === 'back'), { handler: 'delivered', id: 'back' });
    let ready;
    for (let i = 0; i < 100 && (ready = await readyz(nodes[0])).status !== 200; i++) await sleep(50);
    assert.deepEqual(ready, { status: 200, body: 'ready' });
  } finally {
    A.terminate();
    L.terminate();
    B.terminate();
  }
});

test('a SIG registered on two nodes while the bus was down: each envelope reaches one of them, never both',
  async () => {
    const A = await Client.registered(nodes[0].url);
    await Promise.all(cluster.nats.servers.map((s) => s.kill('SIGKILL')));
    // Wait until both relays have seen the bus go: then neither can ask the
    // other before registering.
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && nodes.some((n) => !/NATS connection lost[^]*$/.test(n.out))) await sleep(20);
    const X0 = await Client.registered(nodes[0].url);
    const X1 = await Client.registered(nodes[1].url, { identity: X0.identity });
    try {
      for (let i = 0; i < cluster.nats.servers.length; i++) cluster.nats.servers[i].start(cluster.nats.servers[i].routes);
      await Promise.all(cluster.nats.servers.map((s) => s.routesUp(2)));
      // Nodes 0 and 1 each deliver X locally: the envelopes come from a
      // third node, which holds neither.
      const node2 = await startNode(cluster.nats, 2, { nodeId: 'third' });
      nodes.push(node2);
      await busUp(node2);
      const S = await Client.registered(node2.url);
      try {
        await reachable(S, X0.sig, 10000);
        const N = 40;
        let got0 = 0;
        let got1 = 0;
        X0.ws.on('message', (d) => { if (JSON.parse(d.toString()).handler === 'acceptEnvelop') got0++; });
        X1.ws.on('message', (d) => { if (JSON.parse(d.toString()).handler === 'acceptEnvelop') got1++; });
        const acks = [];
        for (let i = 0; i < N; i++) {
          S.deliver(X0.sig, 'abcd', i);
          acks.push(await S.next((m) => m.id === i, 2000));
        }
        await sleep(300);
        assert.equal(got0 + got1, N, `X0 got ${got0}, X1 got ${got1}`);
        assert.ok(acks.every((m) => m.handler === 'delivered'), JSON.stringify(acks.find((m) => m.handler !== 'delivered')));
        await S.nothing((m) => m.handler === 'delivered', 300); // no second ack for any
      } finally {
        S.terminate();
      }
    } finally {
      A.terminate();
      X0.terminate();
      X1.terminate();
    }
  });
