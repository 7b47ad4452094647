// A worker thread that registers many clients at once, so that the test's
// own main thread, which times a pair's round trips, is not stalled by the
// crowd's handshakes and key imports. Protocol with the parent:
//   workerData { url, n, timeoutMs }  ->  { ready } after the key pairs exist
//   parent 'go'                       ->  { done, states, ms } or { failed }
//   parent 'close'                    ->  terminates every connection, { closed }
import { parentPort, workerData } from 'node:worker_threads';
import { Client, newIdentity, makeRegister3, withTimeout } from './client.mjs';

const { url, n, timeoutMs } = workerData;
const ids = [];
for (let i = 0; i < n; i++) ids.push(await newIdentity());
const clients = [];
parentPort.postMessage({ ready: true });

parentPort.on('message', async (msg) => {
  if (msg === 'go') {
    const start = Date.now();
    try {
      const results = await withTimeout(Promise.all(ids.map(async (identity) => {
        const c = await Client.connect(url, { identity, timeoutMs });
        clients.push(c);
        c.send(await makeRegister3(identity, c.register2));
        const r4 = await c.next((m) => m.handler === 'register4', timeoutMs);
        return r4.state2 === 'VERIFIED' ? 'VERIFIED' : JSON.stringify(r4);
      })), timeoutMs, `${n} registrations`);
      parentPort.postMessage({ done: true, states: results, ms: Date.now() - start });
    } catch (e) {
      parentPort.postMessage({ failed: String(e?.message ?? e), ms: Date.now() - start });
    }
  } else if (msg === 'close') {
    for (const c of clients) c.terminate();
    parentPort.postMessage({ closed: true });
  }
});
