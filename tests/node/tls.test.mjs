// Protocol v1 over wss:// (--tls-cert, --tls-key) with Node `ws` clients and
// webcryptobox: registration, envelopes across shards (connections move
// between shards after their TLS handshake), invite look-ups, takeover, and
// the static page over https://. The certificate comes from a CA the test
// makes with openssl; the clients verify it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Relay } from './relay.mjs';
import { TestCA } from './lib/testca.mjs';
import { Client, identityOnShard } from './lib/client.mjs';
import { closeAll } from './lib/harness.mjs';

let ca;
let relay;
let www;
const clients = [];
before(async () => {
  ca = new TestCA();
  process.env.TEST_TLS_CA = ca.caFile;
  www = fs.mkdtempSync(path.join(os.tmpdir(), 'reflector-www-'));
  fs.writeFileSync(path.join(www, 'index.html'), `<!doctype html><title>wss</title>${'y'.repeat(200000)}`);
  relay = await Relay.start(['--www', www], { tls: ca.issue('server'), threads: 2 });
});
after(async () => {
  await closeAll(clients);
  await relay.stop();
  ca.cleanup();
  fs.rmSync(www, { recursive: true, force: true });
});

async function registered(opts) {
  const c = await Client.registered(relay.url, opts);
  clients.push(c);
  return c;
}

test('wss: the url is wss:// and the certificate verifies against the test CA', async () => {
  assert.match(relay.url, /^wss:\/\/localhost:\d+\/$/);
  const c = await Client.connect(relay.url);
  clients.push(c);
  const sock = c.ws._socket;
  assert.equal(sock.getProtocol(), 'TLSv1.2');
  assert.equal(sock.alpnProtocol, false); // ws offers no ALPN
  assert.match(sock.getCipher().name, /^ECDHE-ECDSA-(AES\d+-GCM|CHACHA20-POLY1305)/);
  assert.equal(c.register2.handler, 'register2');
});

test('wss: A and B on different shards register and exchange envelopes both ways', async () => {
  const A = await registered({ identity: await identityOnShard(0, 2) });
  const B = await registered({ identity: await identityOnShard(1, 2) });
  for (let i = 0; i < 20; i++) {
    const text = `hello ${i} ${'z'.repeat(i * 100)}`;
    A.deliver(B.sig, await A.encryptTo(B.publicKeyPem, text), `a${i}`);
    const { msg } = await B.nextRaw((m) => m.handler === 'acceptEnvelop');
    assert.equal(msg.from, A.sig);
    assert.equal(await B.decryptFrom(A.publicKeyPem, msg.box), text);
    assert.deepEqual(await A.next((m) => m.handler === 'delivered'), { handler: 'delivered', id: `a${i}` });
    B.deliver(A.sig, await B.encryptTo(A.publicKeyPem, `back ${i}`));
    const back = await A.next((m) => m.handler === 'acceptEnvelop');
    assert.equal(await A.decryptFrom(B.publicKeyPem, back.box), `back ${i}`);
  }
});

test('wss: invite3 looks up a registered key', async () => {
  const A = await registered();
  const B = await registered();
  B.send({ handler: 'invite3', publicKeySig: A.sig });
  assert.deepEqual(await B.next((m) => m.handler === 'invite4'),
    { handler: 'invite4', publicKeySig: A.sig, publicKeyPem: A.publicKeyPem });
});

test('wss: a second registration of a SIG takes over (REPLACED, 4000)', async () => {
  const older = await registered();
  const newer = await registered({ identity: older.identity });
  assert.deepEqual(await older.next((m) => m.handler === 'error'), { handler: 'error', error: 'REPLACED' });
  assert.equal((await older.waitClosed()).code, 4000);
  const sender = await registered();
  sender.deliver(newer.sig, 'abcdef');
  assert.equal((await newer.next((m) => m.handler === 'acceptEnvelop')).box, 'abcdef');
});

test('https: the static page, whole, verified against the test CA', async () => {
  const body = await new Promise((resolve, reject) => {
    https.get(`https://localhost:${relay.port}/index.html`, { ca: ca.ca, timeout: 5000, ALPNProtocols: ['http/1.1'] }, (res) => {
      assert.equal(res.statusCode, 200);
      assert.equal(res.socket.alpnProtocol, 'http/1.1');
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve(text));
    }).on('error', reject);
  });
  assert.equal(body.length, 200000 + '<!doctype html><title>wss</title>'.length);
  assert.ok(body.startsWith('<!doctype html><title>wss</title>yyy'));
});

test('wss: a client that does not trust the CA is refused by its own check', async () => {
  await assert.rejects(Client.connect(relay.url, { wsOptions: { ca: undefined }, timeoutMs: 3000 }),
    /self[- ]signed|unable to verify|certificate/);
});
