// Answers challenges for the Python cases that hold their own sockets
// (test_review.py): one JSON line in on stdin per challenge,
//   {"register2": {...}, "shard": K, "shards": N}
// one line out per answer, with a real P-521 key pair owned by shard K:
//   {"register3": {...}, "sig": "..."}
import readline from 'node:readline';
import { identityOnShard, makeRegister3 } from '../node/lib/client.mjs';

const lines = readline.createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  const { register2, shard = 0, shards = 1 } = JSON.parse(line);
  const identity = await identityOnShard(shard, shards);
  const register3 = await makeRegister3(identity, register2);
  process.stdout.write(`${JSON.stringify({ register3, sig: identity.sig })}\n`);
}
