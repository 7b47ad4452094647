// XXH3_64bits (seed 0, default secret) for inputs of 17..128 bytes, in plain
// JavaScript with BigInt: enough for a 43-byte SIG, which is all the tests
// hash. The relay's owner shard of a signature is XXH3_64bits(SIG, 43) % shards.
// Checked against libxxhash (see tests/node/e2e/lib.test.mjs).

const M64 = (1n << 64n) - 1n;
const PRIME64_1 = 0x9E3779B185EBCA87n;

// The first 128 bytes of XXH3_kSecret (xxhash.h); 17..128-byte inputs read no further.
const SECRET = Buffer.from(
  'b8fe6c3923a44bbe7c01812cf721ad1cded46de9839097db7240a4a4b7b3671f' +
  'cb79e64eccc0e578825ad07dccff7221b8084674f743248ee03590e6813a264c' +
  '3c2852bb91c300cb88d0658b1b532ea371644897a20df94e3819ef46a9deacd8' +
  'a8fa763fe39c343ff9dcbbc7c70b4f1d8a51e04bcdb45931c89f7ec9d9787364', 'hex');

const read64 = (buf, off) => buf.readBigUInt64LE(off);

function mul128Fold64(a, b) {
  const p = a * b; // exact 128-bit product
  return (p & M64) ^ (p >> 64n);
}

function mix16B(input, off, soff) {
  return mul128Fold64(read64(input, off) ^ read64(SECRET, soff),
    read64(input, off + 8) ^ read64(SECRET, soff + 8));
}

function avalanche(h) {
  h ^= h >> 37n;
  h = (h * 0x165667919E3779F9n) & M64;
  h ^= h >> 32n;
  return h;
}

// XXH3_64bits(input) for 17 <= input.length <= 128, as a BigInt.
export function xxh3_64(input) {
  const buf = Buffer.isBuffer(input) ? input : Buffer.from(input);
  const len = buf.length;
  if (len < 17 || len > 128) throw new RangeError('xxh3_64 here handles 17..128 bytes only');
  let acc = (BigInt(len) * PRIME64_1) & M64;
  if (len > 32) {
    if (len > 64) {
      if (len > 96) {
        acc += mix16B(buf, 48, 96);
        acc += mix16B(buf, len - 64, 112);
      }
      acc += mix16B(buf, 32, 64);
      acc += mix16B(buf, len - 48, 80);
    }
    acc += mix16B(buf, 16, 32);
    acc += mix16B(buf, len - 32, 48);
  }
  acc += mix16B(buf, 0, 0);
  acc += mix16B(buf, len - 16, 16);
  return avalanche(acc & M64);
}

// The shard (0..shards-1) that owns a SIG.
export function ownerShard(sig, shards) {
  return Number(xxh3_64(Buffer.from(sig, 'latin1')) % BigInt(shards));
}
