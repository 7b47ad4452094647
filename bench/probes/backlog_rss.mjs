// Relay memory held by one backlogged recipient, same-shard vs cross-shard.
//
// usage: node bench/probes/backlog_rss.mjs [--box-bytes 128]
//
// Starts build/reflector (or $REFLECTOR) with --threads 2 --rate 1000000
// --slow-consumer-timeout 60, registers a recipient R on shard 0 that stops
// reading (its socket paused) and a sender on shard 0 (same-shard) or shard 1
// (cross-shard); after a warm-up of 13,000 envelopes that R reads, the
// sender sends envelopes to R in batches of 100 until the
// relay answers RECIPIENT_BACKLOGGED (R's queue is over --max-queued, 1 MiB)
// or 20,000 were sent; prints the relay's VmRSS growth from just before R
// paused (the kernel's socket buffers hold the rest of what was sent and are
// not in RSS). Only touched pages count: a mostly empty 8 KiB chunk shows
// as about one page. A fresh relay
// per case. Bounded: 20,000 envelopes per case, 5 s per batch.
import fs from 'node:fs';
import { Relay } from '../../tests/node/relay.mjs';
import { Client, identityOnShard, sleep } from '../../tests/node/lib/client.mjs';

const boxBytes = process.argv[2] === '--box-bytes' ? Number(process.argv[3]) : 128;
const rss = (pid) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);

async function oneCase(name, senderShard, ids) {
  const relay = await Relay.start(['--rate', '1000000', '--slow-consumer-timeout', '60'], { threads: 2, logLevel: 'warn' });
  const clients = [];
  try {
    const r = await Client.registered(relay.url, { identity: ids.r }); clients.push(r);
    const s = await Client.registered(relay.url, { identity: senderShard === 0 ? ids.s0 : ids.s1 }); clients.push(s);
    // Warm-up with R reading: the same volume once, so the relay's receive
    // buffers and pools are touched before the baseline is taken.
    let got = 0;
    r.ws.on('message', () => { got++; });
    const wbox = 'ab'.repeat(boxBytes);
    for (let k = 0; k < 130; k++) {
      for (let i = 0; i < 100; i++) s.ws.send(JSON.stringify({ handler: 'deliverEnvelop', from: s.sig, to: r.sig, box: wbox }));
      const want = (k + 1) * 100, deadline = Date.now() + 5000;
      while (got < want && Date.now() < deadline) await sleep(2);
      r.queue.length = 0;
    }
    await sleep(200);
    r.ws._socket.pause(); // the recipient stops reading: the kernel buffers fill, then the relay's queue
    const before = rss(relay.proc.pid);
    const box = 'ab'.repeat(boxBytes);
    let sent = 0, frameBytes = 0, backlogged = false, errors = 0;
    s.ws.on('message', (d) => { if (d.toString().includes('RECIPIENT_BACKLOGGED')) backlogged = true; else if (d.toString().includes('"error"')) errors++; });
    while (!backlogged && sent < 20000) {
      for (let i = 0; i < 100; i++) {
        const text = JSON.stringify({ handler: 'deliverEnvelop', from: s.sig, to: r.sig, box });
        s.ws.send(text);
        frameBytes += text.length + 4; // + the relay's WebSocket header (126-form)
        sent++;
      }
      await s.ping(`p${sent}`, 5000); // the relay has handled the batch
    }
    await sleep(300);
    const after = rss(relay.proc.pid);
    console.log(`${name}: ${sent} envelopes of ${frameBytes / sent} frame bytes sent (backlogged: ${backlogged}, other errors ${errors}); ` +
      `relay VmRSS +${after - before} KiB with R's queue at the --max-queued cap (1024 KiB of frames; ` +
      `the other ${(frameBytes / 1024 - 1024).toFixed(0)} KiB sent sit in kernel socket buffers)`);
  } finally {
    for (const c of clients) c.terminate();
    await relay.stop('SIGTERM', 15000).catch((e) => console.error(`relay stop: ${e.message.slice(0, 300)}`));
  }
}

const ids = { r: await identityOnShard(0, 2), s0: await identityOnShard(0, 2), s1: await identityOnShard(1, 2) };
await oneCase('same-shard', 0, ids);
await oneCase('cross-shard', 1, ids);
process.exit(0);
