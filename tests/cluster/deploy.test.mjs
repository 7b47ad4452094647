// deploy/nats/: the three servers' configuration files as shipped, with
// only their host names and ports changed to free loopback ones, form a
// cluster that relays join with --nats.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '../node/lib/client.mjs';
import { ROOT, freePort } from '../node/relay.mjs';
import { NatsServer, natsServerBinary, startNode, busUp, reachable } from './lib/cluster.mjs';

const DIR = path.join(ROOT, 'deploy', 'nats');

test('deploy/nats: each file is valid for nats-server', () => {
  for (const i of [1, 2, 3]) {
    execFileSync(natsServerBinary(), ['-t', '-c', path.join(DIR, `nats-${i}.conf`)], { stdio: 'pipe' });
  }
});

test('deploy/nats: the three servers route to each other; relays on two of them exchange envelopes', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reflector-nats-deploy-'));
  const servers = [];
  const nodes = [];
  const clients = [];
  try {
    for (let i = 1; i <= 3; i++) {
      servers.push(new NatsServer(`nats-${i}`, await freePort(), await freePort(), await freePort(), dir));
    }
    for (const [k, s] of servers.entries()) {
      let text = fs.readFileSync(path.join(DIR, `nats-${k + 1}.conf`), 'utf8');
      // Each route names another server by host name and port 6222.
      text = text.replace(/nats-route:\/\/nats-(\d)\.internal:6222/g, (_, j) => `nats-route://127.0.0.1:${servers[j - 1].clusterPort}`);
      text = text.replace('listen: 0.0.0.0:4222', `listen: 127.0.0.1:${s.port}`)
        .replace('http: 127.0.0.1:8222', `http: 127.0.0.1:${s.monitorPort}`)
        .replace('listen: 0.0.0.0:6222', `listen: 127.0.0.1:${s.clusterPort}`);
      assert.ok(!/4222|6222|8222|\.internal/.test(text.replace(/^#.*$/gm, '')), `a host or port left in nats-${k + 1}.conf`);
      const file = path.join(dir, `nats-${k + 1}.conf`);
      fs.writeFileSync(file, text);
      s.start([], file);
    }
    await Promise.all(servers.map((s) => s.routesUp(2)));
    const nats = { urls: servers.map((s) => s.url) };
    nodes.push(await startNode(nats, 0, { nodeId: 'd0' }), await startNode(nats, 2, { nodeId: 'd2' }));
    await Promise.all(nodes.map((n) => busUp(n)));
    const A = await Client.registered(nodes[0].url);
    const B = await Client.registered(nodes[1].url);
    clients.push(A, B);
    await reachable(A, B.sig);
    A.deliver(B.sig, await A.encryptTo(B.publicKeyPem, 'through deploy/nats'), 1);
    const { msg } = await B.nextRaw((m) => m.handler === 'acceptEnvelop');
    assert.equal(await B.decryptFrom(A.publicKeyPem, msg.box), 'through deploy/nats');
    assert.deepEqual(await A.next(), { handler: 'delivered', id: 1 });
  } finally {
    for (const c of clients) c.terminate();
    const errors = [];
    for (const n of nodes) await n.stop().catch((e) => errors.push(e));
    await Promise.all(servers.map((s) => s.kill('SIGTERM')));
    fs.rmSync(dir, { recursive: true, force: true });
    if (errors.length) throw errors[0];
  }
});
