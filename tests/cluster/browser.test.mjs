// The demo chat across nodes: two headless Chromium contexts, each served
// by a different relay of a cluster (--nats), chat through the page: the
// invite link's look-up, the greeting, a message each way with its
// delivery state, every envelope crossing NATS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { requireWww, WWW } from '../browser/lib/www.mjs';
import { cspProxy } from '../browser/lib/csp-proxy.mjs';
import {
  CSP, WAIT, launch, person, problems, open, type, waitDelivery, waitIncoming, texts,
} from '../browser/lib/chat.mjs';
import { startNatsCluster, startNode, busUp } from './lib/cluster.mjs';

let nats;
const nodes = [];
const proxies = [];
let browser;

before(async () => {
  requireWww();
  nats = await startNatsCluster(3);
  for (const i of [0, 1]) nodes.push(await startNode(nats, i, { args: ['--www', WWW], nodeId: `web${i}` }));
  await Promise.all(nodes.map((n) => busUp(n)));
  for (const n of nodes) proxies.push(await cspProxy(n.port, CSP));
  browser = await launch();
});
after(async () => {
  await browser?.close();
  for (const p of proxies) await p.close();
  const errors = [];
  for (const n of nodes) await n.stop().catch((e) => errors.push(e));
  await nats?.stop();
  if (errors.length) throw errors[0];
});

test('browser: A on node 0 and B on node 1 chat through the demo page', { timeout: 90000 }, async () => {
  const A = await person(browser, proxies[0].url);
  // B opens A's invite link on the other node's page: the look-up and the
  // greeting cross NATS.
  const B = await person(browser, `${proxies[1].url}#${A.sig}`);
  try {
    await A.page.waitForSelector(`#contacts li[data-sig="${B.sig}"] .c-unread`, WAIT); // B's greeting
    await open(A.page, B.sig);
    await waitIncoming(A.page, 'Hi! I opened your invite link.');
    await type(A.page, 'hello from node 0');
    assert.equal(await waitDelivery(A.page, 'hello from node 0', 'delivered'), 'delivered');
    await open(B.page, A.sig);
    await waitIncoming(B.page, 'hello from node 0');
    await type(B.page, 'and back from node 1');
    assert.equal(await waitDelivery(B.page, 'and back from node 1', 'delivered'), 'delivered');
    await waitIncoming(A.page, 'and back from node 1');
    assert.deepEqual(await texts(A.page, 'in'), ['Hi! I opened your invite link.', 'and back from node 1']);
    for (const p of [A, B]) assert.deepEqual(await problems(p), [], `page problems (${p.sig})`);
  } finally {
    await A.close();
    await B.close();
  }
  // Both nodes carried envelopes over the bus.
  for (const n of nodes) await n.stop();
  for (const n of nodes) assert.match(n.out, /bus_received=[1-9]/, n.out);
});
