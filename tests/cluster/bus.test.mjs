// Relay nodes joined through a real NATS cluster (--nats): 3 nats-servers
// routed to each other, 3 relays each on a different server. Envelopes and
// look-ups reach SIGs held on other nodes, byte for byte and in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, sleep } from '../node/lib/client.mjs';
import { useCluster, reachable } from './lib/cluster.mjs';

const cluster = useCluster(3);
const { nodes } = cluster;

const isAccept = (m) => m.handler === 'acceptEnvelop';

async function pair(i, j) {
  const A = await Client.registered(nodes[i].url);
  const B = await Client.registered(nodes[j].url);
  await reachable(A, B.sig);
  await reachable(B, A.sig);
  return [A, B];
}

test('bus: envelopes both ways between nodes, byte for byte, decrypted by the recipient, acked', async () => {
  const [A, B] = await pair(0, 1);
  try {
    for (const [from, to] of [[A, B], [B, A]]) {
      const plaintext = `across nodes ✓ ${from.sig.slice(0, 6)}`;
      const sent = from.deliver(to.sig, await from.encryptTo(to.publicKeyPem, plaintext), 'id-1');
      const { text, msg } = await to.nextRaw(isAccept);
      assert.equal(text, sent.replace('"deliverEnvelop"', '"acceptEnvelop" '));
      assert.equal(await to.decryptFrom(from.publicKeyPem, msg.box), plaintext);
      const ack = await from.next((m) => m.handler === 'delivered' || m.handler === 'error');
      assert.deepEqual(ack, { handler: 'delivered', id: 'id-1' });
    }
    // Without an id, no answer at all.
    A.deliver(B.sig, 'abcd');
    await B.next(isAccept);
    await A.nothing(() => true, 300);
  } finally {
    A.terminate();
    B.terminate();
  }
});

test('bus: 5,000 envelopes from one node to another arrive in order, every one acked', async () => {
  const [A, B] = await pair(1, 2);
  try {
    const N = 5000;
    const acks = [];
    const got = [];
    const done = new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timeout: ${got.length} envelopes, ${acks.length} acks`)), 30000);
      B.ws.on('message', (d) => {
        const m = JSON.parse(d.toString());
        if (m.handler === 'acceptEnvelop') got.push(m.box);
        if (got.length === N && acks.length === N) { clearTimeout(t); resolve(); }
      });
      A.ws.on('message', (d) => {
        const m = JSON.parse(d.toString());
        if (m.handler === 'delivered') acks.push(m.id);
        else reject(new Error(`unexpected ${d}`));
        if (got.length === N && acks.length === N) { clearTimeout(t); resolve(); }
      });
    });
    // Under --rate (1000/s, bursts of 2000): 500 at a time, 0.5 s apart.
    for (let i = 0; i < N; i++) {
      A.deliver(B.sig, i.toString(16).padStart(8, '0'), i);
      if (i % 500 === 499) await sleep(500);
    }
    await done;
    assert.deepEqual(got, Array.from({ length: N }, (_, i) => i.toString(16).padStart(8, '0')));
    assert.deepEqual(acks, Array.from({ length: N }, (_, i) => i));
  } finally {
    A.terminate();
    B.terminate();
  }
});

test('bus: a SIG held on no node: RECIPIENT_NOT_AVAILABLE within 100 ms, with to and id', async () => {
  const A = await Client.registered(nodes[0].url);
  const nobody = (await Client.connect(nodes[2].url)).identity.sig; // connected, never registered
  try {
    const times = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      A.deliver(nobody, 'abcd', `n${i}`);
      const m = await A.next();
      times.push(performance.now() - t0);
      assert.deepEqual(m, { handler: 'error', error: 'RECIPIENT_NOT_AVAILABLE', to: nobody, id: `n${i}` });
    }
    assert.ok(Math.max(...times) < 100, `answers took ${times.map((t) => t.toFixed(1)).join(', ')} ms`);
    A.send({ handler: 'invite3', publicKeySig: nobody });
    assert.deepEqual(await A.next(), { handler: 'invite4', publicKeySig: nobody, error: 'RECIPIENT_NOT_AVAILABLE' });
  } finally {
    A.terminate();
  }
});

test('bus: invite3 across nodes answers with the key the holder registered', async () => {
  const A = await Client.registered(nodes[2].url);
  const B = await Client.registered(nodes[0].url);
  try {
    const m = await reachable(A, B.sig);
    assert.deepEqual(m, { handler: 'invite4', publicKeySig: B.sig, publicKeyPem: B.publicKeyPem });
    // And the guest can write to the host with that key.
    A.deliver(B.sig, await A.encryptTo(m.publicKeyPem, 'hello host'));
    const { msg } = await B.nextRaw(isAccept);
    assert.equal(await B.decryptFrom(A.publicKeyPem, msg.box), 'hello host');
  } finally {
    A.terminate();
    B.terminate();
  }
});
