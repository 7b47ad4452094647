// Nodes coming and going on the bus: a relay killed with SIGKILL (its SIGs
// vanish with its NATS connection), and a SIG taken over across nodes under
// both --on-duplicate modes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client, sleep } from '../node/lib/client.mjs';
import { startNatsCluster, startNode, busUp, reachable } from './lib/cluster.mjs';

let nats;
before(async () => { nats = await startNatsCluster(3); });
after(async () => { await nats.stop(); });

const isAccept = (m) => m.handler === 'acceptEnvelop';

async function nodesOf(n, args = []) {
  const nodes = [];
  for (let i = 0; i < n; i++) nodes.push(await startNode(nats, i, { args, nodeId: `k${i}${args.join('')}` }));
  await Promise.all(nodes.map((r) => busUp(r)));
  return nodes;
}

async function stopAll(nodes, clients) {
  for (const c of clients) c.terminate();
  const errors = [];
  for (const n of nodes) await n.stop().catch((e) => errors.push(e));
  if (errors.length) throw errors[0];
}

test('kill -9 of a relay: the others answer RECIPIENT_NOT_AVAILABLE for its SIGs within a second; '
  + 'its clients reconnect to another node and are reachable again', async () => {
  const nodes = await nodesOf(3);
  const A = await Client.registered(nodes[0].url);
  const B = await Client.registered(nodes[1].url);
  const clients = [A, B];
  try {
    await reachable(A, B.sig);
    A.deliver(B.sig, 'aa', 'before');
    assert.deepEqual(await A.next(), { handler: 'delivered', id: 'before' });
    const killed = performance.now();
    nodes[1].proc.kill('SIGKILL');
    await nodes[1].exited;
    // An envelope NATS handed to node 1 as it died gets no answer (at most
    // once): the next one is sent after 200 ms without one.
    let answer;
    for (let i = 0; i < 40; i++) {
      A.deliver(B.sig, 'bb', `after${i}`);
      answer = await A.next((m) => m.id === `after${i}`, 200).catch(() => ({}));
      if (answer.error === 'RECIPIENT_NOT_AVAILABLE') break;
      await sleep(25);
    }
    const took = performance.now() - killed;
    assert.equal(answer.error, 'RECIPIENT_NOT_AVAILABLE');
    assert.ok(took < 1000, `RECIPIENT_NOT_AVAILABLE only after ${took.toFixed(0)} ms`);
    // B's tab reconnects to node 2 with its key pair: reachable again.
    B.terminate();
    const B2 = await Client.registered(nodes[2].url, { identity: B.identity });
    clients.push(B2);
    await reachable(A, B2.sig);
    A.deliver(B2.sig, await A.encryptTo(B2.publicKeyPem, 'welcome back'), 'again');
    const { msg } = await B2.nextRaw(isAccept);
    assert.equal(await B2.decryptFrom(A.publicKeyPem, msg.box), 'welcome back');
    assert.deepEqual(await A.next(), { handler: 'delivered', id: 'again' });
  } finally {
    await stopAll([nodes[0], nodes[2]], clients);
  }
});

test('takeover across nodes, --on-duplicate replace: the older holder gets REPLACED and close 4000, '
  + 'envelopes go to the newer', async () => {
  const nodes = await nodesOf(2);
  const A = await Client.registered(nodes[0].url);
  const X = await Client.registered(nodes[0].url);
  const clients = [A, X];
  try {
    const X2 = await Client.registered(nodes[1].url, { identity: X.identity });
    clients.push(X2);
    assert.deepEqual(await X.next(), { handler: 'error', error: 'REPLACED' });
    assert.equal((await X.waitClosed()).code, 4000);
    await reachable(A, X2.sig);
    A.deliver(X2.sig, 'cc', 'to-new');
    await X2.next(isAccept);
    assert.deepEqual(await A.next(), { handler: 'delivered', id: 'to-new' });
    // And back: a third registration on node 0 replaces the one on node 1.
    const X3 = await Client.registered(nodes[0].url, { identity: X.identity });
    clients.push(X3);
    assert.deepEqual(await X2.next(), { handler: 'error', error: 'REPLACED' });
    assert.equal((await X2.waitClosed()).code, 4000);
    A.deliver(X3.sig, 'dd', 'to-third');
    await X3.next(isAccept);
    assert.deepEqual(await A.next(), { handler: 'delivered', id: 'to-third' });
  } finally {
    await stopAll(nodes, clients);
  }
});

test('takeover across nodes, --on-duplicate reject: the newer gets SIG_IN_USE, the older keeps its SIG',
  async () => {
    const nodes = await nodesOf(2, ['--on-duplicate', 'reject']);
    const A = await Client.registered(nodes[1].url);
    const X = await Client.registered(nodes[0].url);
    const clients = [A, X];
    try {
      await reachable(A, X.sig);
      const X2 = await Client.connect(nodes[1].url, { identity: X.identity });
      clients.push(X2);
      const r4 = await X2.register();
      assert.equal(r4.state2, 'UNVERIFIED');
      assert.equal(r4.error, 'SIG_IN_USE');
      A.deliver(X.sig, 'ee', 'still-old');
      await X.next(isAccept);
      assert.deepEqual(await A.next(), { handler: 'delivered', id: 'still-old' });
      await X.nothing(() => true, 200);
    } finally {
      await stopAll(nodes, clients);
    }
  });
