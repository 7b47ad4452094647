// Envelopes (protocol.md, "Envelopes" and "Errors"): deliverEnvelop is
// forwarded as acceptEnvelop with only the handler's value changed, acked
// with "delivered" when it has an id, refused with the documented codes,
// and kept in order per sender and recipient, also across shards.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Client, newIdentity, identityOnShard, ownerShard, sleep, withTimeout,
} from '../lib/client.mjs';
import { Relay, withRelay, expectOpen, closeAll } from '../lib/harness.mjs';

let relay;
let A;
let B;
before(async () => {
  relay = await Relay.start();
  A = await Client.registered(relay.url);
  B = await Client.registered(relay.url);
});
after(async () => {
  await closeAll([A, B]);
  await relay.stop();
});

const isAccept = (m) => m.handler === 'acceptEnvelop';
const isError = (m) => m.handler === 'error';

// What the recipient must see for a sent deliverEnvelop text: the same bytes
// but the handler value, "acceptEnvelop" padded with a space to keep the length.
function expectForwarded(sent, got) {
  assert.equal(got.length, sent.length, `forwarded length differs:\n sent ${sent}\n got  ${got}`);
  assert.equal(JSON.parse(got).handler, 'acceptEnvelop');
  // Only the handler value (and the pad's place next to it) may differ.
  const norm = (s, h) => s.replace(new RegExp(`("handler"\\s*:\\s*)"${h}"\\s*`), '$1"H"');
  assert.equal(norm(got, 'acceptEnvelop'), norm(sent, 'deliverEnvelop'), 'bytes other than the handler value changed');
}

test('envelopes: A -> B webcryptobox box arrives as acceptEnvelop with the same bytes; B decrypts it', async () => {
  const plaintext = JSON.stringify({ text: 'hello B, from A ✓', sent: Date.now() });
  const box = await A.encryptTo(B.publicKeyPem, plaintext);
  const sent = A.deliver(B.sig, box);
  const { text, msg } = await B.nextRaw(isAccept);
  assert.equal(text, sent.replace('"deliverEnvelop"', '"acceptEnvelop" '), 'the documented form: "acceptEnvelop" plus one space');
  expectForwarded(sent, text);
  assert.equal(msg.from, A.sig);
  assert.equal(msg.to, B.sig);
  assert.equal(await B.decryptFrom(A.publicKeyPem, msg.box), plaintext);
  // No ack without an id, and nothing else for A.
  await A.nothing(() => true, 300);
});

test('envelopes: field order, whitespace, fromPublicKeyPem and upper-case hex are kept byte for byte', async () => {
  const box = (await A.encryptTo(B.publicKeyPem, 'shouting hex')).toUpperCase();
  const sent = `{ "from" : "${A.sig}", "box":"${box}",\n "fromPublicKeyPem": ${JSON.stringify(A.publicKeyPem)},`
    + ` "to":"${B.sig}" , "handler" : "deliverEnvelop" }`;
  A.send(sent);
  const { text, msg } = await B.nextRaw(isAccept);
  expectForwarded(sent, text);
  assert.equal(msg.fromPublicKeyPem, A.publicKeyPem);
  assert.equal(await B.decryptFrom(msg.fromPublicKeyPem, msg.box.toLowerCase()), 'shouting hex');
});

for (const id of ['msg-1', 4242, 0, 'ünïcødé \\"id\\"']) {
  test(`envelopes: id ${JSON.stringify(id)} -> delivered with the same id`, async () => {
    const box = await A.encryptTo(B.publicKeyPem, `with id ${id}`);
    const sent = A.deliver(B.sig, box, id);
    const ack = await A.next((m) => m.handler === 'delivered');
    assert.deepEqual(ack, { handler: 'delivered', id });
    const { text, msg } = await B.nextRaw(isAccept);
    expectForwarded(sent, text);
    assert.equal(msg.id, id);
  });
}

test('envelopes: to nobody -> RECIPIENT_NOT_AVAILABLE with to and id', async () => {
  const nobody = await newIdentity();
  A.deliver(nobody.sig, 'abcdef', 'n1');
  assert.deepEqual(await A.next(isError),
    { handler: 'error', error: 'RECIPIENT_NOT_AVAILABLE', to: nobody.sig, id: 'n1' });
  A.deliver(nobody.sig, 'abcdef', 77);
  assert.deepEqual(await A.next(isError),
    { handler: 'error', error: 'RECIPIENT_NOT_AVAILABLE', to: nobody.sig, id: 77 });
  await expectOpen(A);
});

test('envelopes: from another SIG -> FROM_MISMATCH, nothing forwarded', async () => {
  const other = await newIdentity();
  A.send({ handler: 'deliverEnvelop', from: other.sig, to: B.sig, box: 'abcd', id: 'f1' });
  const e = await A.next(isError);
  assert.equal(e.error, 'FROM_MISMATCH');
  assert.equal(e.id, 'f1');
  assert.equal(e.to, B.sig);
  // Sending as B (a registered SIG) is no better.
  A.send({ handler: 'deliverEnvelop', from: B.sig, to: B.sig, box: 'abcd' });
  assert.equal((await A.next(isError)).error, 'FROM_MISMATCH');
  await B.nothing(isAccept, 300);
  await expectOpen(A);
});

const badEnvelopes = {
  'to not a SIG (short)': (a, b) => ({ handler: 'deliverEnvelop', from: a, to: 'shortsig', box: 'abcd' }),
  'to not a SIG (44 chars)': (a, b) => ({ handler: 'deliverEnvelop', from: a, to: `${b}A`, box: 'abcd' }),
  'to not a SIG (bad character)': (a, b) => ({ handler: 'deliverEnvelop', from: a, to: `${b.slice(0, 42)}+`, box: 'abcd' }),
  'to a number': (a) => ({ handler: 'deliverEnvelop', from: a, to: 12, box: 'abcd' }),
  'to missing': (a) => ({ handler: 'deliverEnvelop', from: a, box: 'abcd' }),
  'from missing': (a, b) => ({ handler: 'deliverEnvelop', to: b, box: 'abcd' }),
  'box missing': (a, b) => ({ handler: 'deliverEnvelop', from: a, to: b }),
  'box not hex': (a, b) => ({ handler: 'deliverEnvelop', from: a, to: b, box: 'zz12' }),
  'box odd length': (a, b) => ({ handler: 'deliverEnvelop', from: a, to: b, box: 'abc' }),
  'box a number': (a, b) => ({ handler: 'deliverEnvelop', from: a, to: b, box: 1234 }),
  'id an object': (a, b) => ({ handler: 'deliverEnvelop', from: a, to: b, box: 'abcd', id: { x: 1 } }),
  'id an array': (a, b) => ({ handler: 'deliverEnvelop', from: a, to: b, box: 'abcd', id: [1] }),
  'invite3 publicKeySig missing': () => ({ handler: 'invite3' }),
};

for (const [name, make] of Object.entries(badEnvelopes)) {
  test(`envelopes: ${name} -> BAD_ENVELOPE, stays open`, async () => {
    A.send(make(A.sig, B.sig));
    const e = await A.next(isError);
    assert.equal(e.error, 'BAD_ENVELOPE', JSON.stringify(e));
    await B.nothing(isAccept, 200);
    await expectOpen(A);
  });
}

test('envelopes: unknown handler -> UNKNOWN_HANDLER; not JSON -> BAD_JSON; both stay open', async () => {
  A.send({ handler: 'teleport', to: B.sig });
  assert.deepEqual(await A.next(isError), { handler: 'error', error: 'UNKNOWN_HANDLER' });
  for (const raw of ['{"handler":', 'not json', '[1,2]', '"deliverEnvelop"', '{}{}']) {
    A.send(raw);
    const e = await A.next(isError);
    assert.ok(['BAD_JSON'].includes(e.error), `${raw}: ${JSON.stringify(e)}`);
  }
  await expectOpen(A);
});

// Sends count envelopes paced below the default rate (1000/s, burst 2000).
async function pacedSend(from, count, make, { batch = 100, pauseMs = 120 } = {}) {
  for (let i = 0; i < count; i += batch) {
    for (let j = i; j < Math.min(count, i + batch); j++) make(j);
    await sleep(pauseMs);
  }
}

test('envelopes: 5000 from A to B arrive in order', async () => {
  const N = 5000;
  const seen = [];
  const collect = (async () => {
    for (let i = 0; i < N; i++) {
      const m = await B.next(isAccept, 10000);
      seen.push(Number.parseInt(Buffer.from(m.box, 'hex').toString('utf8'), 10));
    }
  })();
  collect.catch(() => {});
  await pacedSend(A, N, (i) => A.deliver(B.sig, Buffer.from(String(i).padStart(8, '0')).toString('hex')));
  await withTimeout(collect, 30000, 'receiving 5000 envelopes');
  assert.equal(seen.length, N);
  for (let i = 0; i < N; i++) {
    if (seen[i] !== i) assert.fail(`envelope ${i} arrived as #${seen[i]} (in order up to ${i - 1})`);
  }
  const errs = A.queue.filter((e) => e.msg.handler === 'error');
  assert.equal(errs.length, 0, `errors at A: ${errs.slice(0, 3).map((e) => e.text)}`);
});

test('envelopes: across 4 shards, 16 clients, every ordered pair delivers', async () => {
  const SHARDS = 4;
  const PER = 4;
  await withRelay([], async (r) => {
    // 4 identities per owner shard (owner = XXH3_64bits(SIG) % shards).
    const ids = [];
    for (let s = 0; s < SHARDS; s++) for (let k = 0; k < PER; k++) ids.push(await identityOnShard(s, SHARDS));
    assert.deepEqual(ids.map((i) => ownerShard(i.sig, SHARDS)), [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]);
    const clients = await Promise.all(ids.map((identity) => Client.registered(r.url, { identity })));
    try {
      const n = clients.length;
      const work = clients.map(async (from, i) => {
        for (let j = 0; j < n; j++) {
          if (j === i) continue;
          const box = await from.encryptTo(clients[j].publicKeyPem, `${i}->${j}`);
          from.deliver(clients[j].sig, box, `${i}-${j}`);
        }
        for (let j = 0; j < n - 1; j++) {
          const m = await from.next((x) => x.handler === 'delivered' || x.handler === 'error', 10000);
          assert.equal(m.handler, 'delivered', `sender ${i}: ${JSON.stringify(m)}`);
        }
      });
      const recv = clients.map(async (to, j) => {
        const got = new Set();
        for (let k = 0; k < n - 1; k++) {
          const m = await to.next(isAccept, 10000);
          const i = clients.findIndex((c) => c.sig === m.from);
          assert.ok(i >= 0 && i !== j, `unknown sender ${m.from}`);
          assert.equal(await to.decryptFrom(clients[i].publicKeyPem, m.box), `${i}->${j}`);
          got.add(i);
        }
        assert.equal(got.size, n - 1);
      });
      await withTimeout(Promise.all([...work, ...recv]), 30000, 'cross-shard exchange');
    } finally {
      await closeAll(clients);
    }
  }, { threads: SHARDS });
});
