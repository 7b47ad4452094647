// Protocol v1's relay side in a few lines of JavaScript, on a MockServer:
// enough of protocol.md (challenge, proof check, routing, look-ups, pong,
// errors, takeover) for the client's unit tests to run its whole state
// machine with no network. The C relay stays the reference: the Node and
// browser tests run the same client against it.
import { MockServer } from '../mock-websocket.js';
import { createIdentity, decryptText, sigOfPem, isSig } from '../identity.js';

export class MockRelay {
  static async start(options = {}) {
    const relay = new MockRelay(options);
    relay.identity = await createIdentity();
    return relay;
  }

  constructor({ latencyMs = 1 } = {}) {
    this.server = new MockServer({ latencyMs });
    this.server.onconnection = (peer) => this.onConnection(peer);
    this.registry = new Map(); // SIG -> { peer, pem }
    this.lastT1 = 0;
    this.received = []; // every parsed message, for assertions
    // Knobs for tests: answer nothing at all, or drop pongs, or lie in look-ups.
    this.silent = false;
    this.noPong = false;
    this.lookupLies = null; // a PEM to hand out for every look-up
  }

  get WebSocket() {
    return this.server.WebSocket;
  }

  onConnection(peer) {
    const conn = { peer, sig: null, t1: 0 };
    peer.onmessage = (text) => this.onMessage(conn, text);
    peer.onclose = () => {
      if (conn.sig && this.registry.get(conn.sig)?.peer === peer) this.registry.delete(conn.sig);
    };
    if (this.silent) return;
    // Strictly increasing, as the relay's t1 is across connections.
    conn.t1 = this.lastT1 = Math.max(Date.now(), this.lastT1 + 1);
    this.send(peer, { handler: 'register2', publicKeyPem: this.identity.publicKeyPem, t1: conn.t1 });
  }

  send(peer, obj) {
    peer.send(JSON.stringify(obj));
  }

  async onMessage(conn, text) {
    if (this.silent) return;
    let m;
    try {
      m = JSON.parse(text);
    } catch {
      return this.send(conn.peer, { handler: 'error', error: 'BAD_JSON' });
    }
    this.received.push(m);
    if (m.handler === 'ping') {
      if (!this.noPong) this.send(conn.peer, { handler: 'pong', t: m.t, serverTime: Date.now() });
      return undefined;
    }
    if (m.handler === 'register3') return this.register(conn, m);
    if (!conn.sig) return this.send(conn.peer, { handler: 'error', error: 'NOT_REGISTERED' });
    if (m.handler === 'deliverEnvelop') return this.route(conn, m, text);
    if (m.handler === 'invite3') return this.lookup(conn, m);
    return this.send(conn.peer, { handler: 'error', error: 'UNKNOWN_HANDLER' });
  }

  async register(conn, m) {
    const refuse = (error) => {
      this.send(conn.peer, { handler: 'register4', state2: 'UNVERIFIED', error });
      conn.peer.close(1008, error);
    };
    if ((await sigOfPem(m.publicKey)) !== m.publicKeySig) return refuse('SIG_MISMATCH');
    let clear;
    try {
      clear = JSON.parse(m.clearText);
    } catch {
      return refuse('BAD_CLEARTEXT');
    }
    if (clear.t1 !== conn.t1) return refuse('T1_MISMATCH');
    let opened;
    try {
      opened = await decryptText(this.identity, m.publicKey, m.cypherText);
    } catch {
      return refuse('PROOF_FAILED');
    }
    if (opened !== m.clearText) return refuse('PROOF_FAILED');
    const older = this.registry.get(m.publicKeySig);
    if (older) {
      this.send(older.peer, { handler: 'error', error: 'REPLACED' });
      older.peer.close(4000, 'replaced');
    }
    conn.sig = m.publicKeySig;
    this.registry.set(conn.sig, { peer: conn.peer, pem: m.publicKey });
    this.send(conn.peer, { handler: 'register4', state2: 'VERIFIED' });
    return undefined;
  }

  route(conn, m, text) {
    const echo = {};
    if (m.id !== undefined) echo.id = m.id;
    if (m.from !== conn.sig) return this.send(conn.peer, { handler: 'error', error: 'FROM_MISMATCH', ...echo });
    if (!isSig(m.to) || typeof m.box !== 'string') return this.send(conn.peer, { handler: 'error', error: 'BAD_ENVELOPE', ...echo });
    const target = this.registry.get(m.to);
    if (!target) return this.send(conn.peer, { handler: 'error', error: 'RECIPIENT_NOT_AVAILABLE', ...echo, to: m.to });
    // The relay's rewrite: only the handler's value changes, padded to length.
    target.peer.send(text.replace('"deliverEnvelop"', '"acceptEnvelop" '));
    if (m.id !== undefined) this.send(conn.peer, { handler: 'delivered', id: m.id });
    return undefined;
  }

  lookup(conn, m) {
    const sig = m.publicKeySig;
    const found = this.registry.get(sig);
    if (this.lookupLies) return this.send(conn.peer, { handler: 'invite4', publicKeySig: sig, publicKeyPem: this.lookupLies });
    if (!found) return this.send(conn.peer, { handler: 'invite4', publicKeySig: sig, error: 'RECIPIENT_NOT_AVAILABLE' });
    return this.send(conn.peer, { handler: 'invite4', publicKeySig: sig, publicKeyPem: found.pem });
  }

  shutdown() {
    this.server.shutdown();
  }
}
