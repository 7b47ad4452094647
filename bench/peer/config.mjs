// The relay's command line (README.md "Running it"), so the same tests and
// benchmarks drive either. Flags about threads have no meaning for one Node
// process: --threads is accepted and ignored, --crypto-threads sizes the
// libuv pool that node:crypto's WebCrypto jobs run on. The relay's
// admission control for registrations and its bound on mail between
// shards have no counterpart here: those flags are accepted and ignored,
// as the Simpatico reflector this peer is built like has neither.

export const HELP = `usage: reflector-peer [options]
       reflector-peer keygen FILE
The Node.js baseline of the Reflector relay: protocol v1 on ws and node:crypto.

  --listen HOST:PORT       address to listen on (default 127.0.0.1:8080; [::1]:PORT for IPv6)
  --threads N              accepted for the relay's sake; one event loop here
  --crypto-threads N       libuv threads for the registration proofs' ECDH (default 4)
  --register-timeout S     time to answer the register2 challenge (default 10)
  --on-duplicate MODE      a SIG registered twice: replace (the newer takes over) or reject (default replace)
  --rate N                 envelopes per second per sender, bursts of 2N (default 1000)
  --max-queued BYTES       unsent bytes per connection before RECIPIENT_BACKLOGGED (default 1048576)
  --slow-consumer-timeout S  over --max-queued this long: closed (default 10)
  --www DIR                serve static files from DIR (default: none)
  --key FILE               server P-521 key, PKCS#8 PEM (default: a fresh key per run)
  --max-message BYTES      largest WebSocket message accepted (default 4096)
  --max-conns N            open connections at most (default 100000)
  --max-conns-per-ip N     open connections per client address; 0: no limit (default 0)
  --max-pending-registrations N, --max-registrations-per-ip N, --registration-rate-per-ip N,
  --max-crossing BYTES     accepted for the relay's sake; no admission control or shards here
  --ping-interval S        WebSocket ping period; silent for 2 periods: closed (default 20)
  --handshake-timeout S    time to complete the HTTP request head (default 5)
  --drain-timeout S        graceful shutdown wait for clients (default 5)
  --log-level LEVEL        error, warn, info or debug (default info)
  --help                   this text
  --version                print the version
`;

const INT = (lo, hi, unit) => (v) => {
  if (!/^[0-9]+$/.test(v)) return null;
  const n = Number(v);
  return n >= lo && n <= hi ? n : null;
};

// flag -> [key, parser, what a bad value is told]
const FLAGS = {
  '--listen': ['listen', parseListen, 'want HOST:PORT'],
  '--threads': ['threads', INT(1, 1024), 'want 1..1024'],
  '--crypto-threads': ['cryptoThreads', INT(1, 1024), 'want 1..1024'],
  '--register-timeout': ['registerTimeoutS', INT(1, 3600), 'want 1..3600 seconds'],
  '--on-duplicate': ['onDuplicate', (v) => (v === 'replace' || v === 'reject' ? v : null), 'want replace or reject'],
  '--rate': ['rate', INT(1, 1000000), 'want 1..1000000 per second'],
  '--max-queued': ['maxQueued', INT(1024, 2 ** 40), 'want 1024 bytes or more'],
  '--slow-consumer-timeout': ['slowConsumerTimeoutS', INT(1, 3600), 'want 1..3600 seconds'],
  '--www': ['www', (v) => v || null, 'want a directory'],
  '--key': ['key', (v) => v || null, 'want a file'],
  '--max-message': ['maxMessage', INT(128, 64 * 1024 * 1024), 'want 128..67108864 bytes'],
  '--max-conns': ['maxConns', INT(1, 10000000), 'want 1..10000000'],
  '--max-conns-per-ip': ['maxConnsPerIp', INT(0, 10000000), 'want 0..10000000'],
  '--max-pending-registrations': ['maxPendingRegistrations', INT(1, 1000000), 'want 1..1000000'],
  '--max-registrations-per-ip': ['maxRegistrationsPerIp', INT(0, 1000000), 'want 0..1000000'],
  '--registration-rate-per-ip': ['registrationRatePerIp', INT(0, 1000000), 'want 0..1000000 per second'],
  '--max-crossing': ['maxCrossing', INT(65536, 2 ** 34), 'want 65536..17179869184 bytes'],
  '--ping-interval': ['pingIntervalS', INT(1, 86400), 'want 1..86400 seconds'],
  '--handshake-timeout': ['handshakeTimeoutS', INT(1, 3600), 'want 1..3600 seconds'],
  '--drain-timeout': ['drainTimeoutS', INT(0, 3600), 'want 0..3600 seconds'],
  '--log-level': ['logLevel', (v) => (['error', 'warn', 'info', 'debug'].includes(v) ? v : null), 'want error, warn, info or debug'],
};

function parseListen(v) {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):([0-9]{1,5})$/.exec(v);
  if (!m) return null;
  const port = Number(m[3]);
  if (port > 65535) return null;
  return { host: m[1] ?? m[2], port };
}

export function defaults() {
  return {
    listen: { host: '127.0.0.1', port: 8080 },
    threads: 1,
    cryptoThreads: 4,
    registerTimeoutS: 10,
    onDuplicate: 'replace',
    rate: 1000,
    maxQueued: 1048576,
    slowConsumerTimeoutS: 10,
    www: null,
    key: null,
    maxMessage: 4096,
    maxConns: 100000,
    maxConnsPerIp: 0,
    pingIntervalS: 20,
    handshakeTimeoutS: 5,
    drainTimeoutS: 5,
    logLevel: 'info',
  };
}

// { cfg } or { exit, out } (help, version, or a bad flag: one line, exit 2).
export function parseArgs(argv) {
  const cfg = defaults();
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    let v;
    if (a === '--help') return { exit: 0, out: HELP };
    if (a === '--version') return { exit: 0, out: 'reflector-peer 0.1.0\n' };
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) {
      v = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    const spec = FLAGS[a];
    if (!spec) return { exit: 2, err: `reflector-peer: unknown option ${a}\n` };
    if (v === undefined) {
      if (i + 1 >= argv.length) return { exit: 2, err: `reflector-peer: ${a} needs a value\n` };
      v = argv[++i];
    }
    const parsed = spec[1](v);
    if (parsed === null) return { exit: 2, err: `reflector-peer: ${a} ${v}: ${spec[2]}\n` };
    cfg[spec[0]] = parsed;
  }
  return { cfg };
}
