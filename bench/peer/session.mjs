// One connection's protocol v1 (protocol.md): the registration states,
// then envelopes, look-ups and pings, with the relay's limits (per-sender
// rate, per-recipient backlog) and the relay's order of checks, so that
// every answer matches the relay's.
import { verifyProof } from './proof.mjs';
import { parseMessage, badEnvelope, echo, acceptText } from './messages.mjs';

export class Session {
  // hub: { cfg, ecdhKey, registry (SIG -> Session), challenge(t1) text,
  //        nextT1(), count(name), backlogged (Set), log(level, text) }
  constructor(hub, ws, ip) {
    this.hub = hub;
    this.ws = ws;
    this.ip = ip;
    this.state2 = 'CHALLENGED';
    this.sig = null;
    this.pem = null;
    this.closed = false;
    this.lastSeen = Date.now();
    this.backlogSince = 0;
    this.tokens = hub.cfg.rate * 2000; // thousandths of an envelope, as the relay counts
    this.rateMs = Date.now();
    this.t1 = hub.nextT1();
    ws.send(hub.challenge(this.t1));
    this.regTimer = setTimeout(() => {
      if (this.state2 === 'CHALLENGED') this.refuse('TIMEOUT');
    }, hub.cfg.registerTimeoutS * 1000);
  }

  send(text) {
    if (!this.closed) this.ws.send(text);
  }

  error(code, extra = {}) {
    this.hub.count(code);
    this.send(JSON.stringify({ handler: 'error', error: code, ...extra }));
  }

  refuse(code) {
    this.state2 = 'UNVERIFIED';
    this.hub.count(code);
    this.send(`{"handler":"register4","state2":"UNVERIFIED","error":"${code}"}`);
    if (!this.closed) this.ws.close(1008, code);
  }

  onMessage(data, isBinary) {
    this.lastSeen = Date.now();
    if (isBinary) {
      this.ws.close(1003, 'binary messages are not part of the protocol');
      return;
    }
    const text = data.toString('utf8');
    const p = parseMessage(text);
    if (p.error) {
      this.error(p.error);
      return;
    }
    const { handler, msg } = p;
    if (this.state2 !== 'VERIFIED' && handler !== 'ping' && !(handler === 'register3' && this.state2 === 'CHALLENGED')) {
      // One proof per connection: a second register3 is a bad message.
      this.error(handler === 'register3' ? 'BAD_ENVELOPE' : 'NOT_REGISTERED', echo(msg));
      return;
    }
    if (handler === 'register3' && this.state2 === 'VERIFIED') {
      this.error('BAD_ENVELOPE', echo(msg));
      return;
    }
    switch (handler) {
      case 'ping':
        this.send(JSON.stringify({ handler: 'pong', ...('t' in msg ? { t: msg.t } : {}), serverTime: Date.now() }));
        break;
      case 'register3':
        this.register(msg);
        break;
      default:
        if (badEnvelope(handler, msg)) this.error('BAD_ENVELOPE', echo(msg));
        else if (handler === 'invite3') this.lookup(msg);
        else this.deliver(msg, text);
    }
  }

  register(msg) {
    clearTimeout(this.regTimer);
    this.state2 = 'COMPUTING';
    const { hub } = this;
    verifyProof(hub.ecdhKey, this.t1, msg).then((r) => {
      if (this.closed) return;
      if (r.code) {
        this.refuse(r.code);
        return;
      }
      const older = hub.registry.get(r.sig);
      if (older && !older.closed) {
        if (hub.cfg.onDuplicate === 'reject') {
          this.refuse('SIG_IN_USE');
          return;
        }
        hub.count('REPLACED');
        older.send('{"handler":"error","error":"REPLACED"}');
        older.ws.close(4000, 'replaced');
      }
      this.state2 = 'VERIFIED';
      this.sig = r.sig;
      this.pem = msg.publicKey;
      hub.registry.set(r.sig, this);
      hub.count('VERIFIED');
      this.send('{"handler":"register4","state2":"VERIFIED"}');
    }, (e) => {
      hub.log('warn', `registration failed: ${e.message}`);
      if (!this.closed) this.refuse('PROOF_FAILED');
    });
  }

  // Token bucket: --rate per second, bursts of twice that.
  rateAllows() {
    const { rate } = this.hub.cfg;
    const now = Date.now();
    const tokens = Math.min(rate * 2000, this.tokens + (now - this.rateMs) * rate);
    this.rateMs = now;
    if (tokens < 1000) {
      this.tokens = tokens;
      return false;
    }
    this.tokens = tokens - 1000;
    return true;
  }

  // Whether this recipient is over --max-queued; the hub drops it once it
  // has stayed over for --slow-consumer-timeout.
  isBacklogged() {
    if (this.ws.bufferedAmount < this.hub.cfg.maxQueued) return false;
    if (!this.backlogSince) {
      this.backlogSince = Date.now();
      this.hub.backlogged.add(this);
    }
    return true;
  }

  deliver(msg, text) {
    const { registry } = this.hub;
    if (!this.rateAllows()) return this.error('RATE_LIMITED', echo(msg));
    if (msg.from !== this.sig) return this.error('FROM_MISMATCH', echo(msg));
    const r = registry.get(msg.to);
    if (!r || r.closed) return this.error('RECIPIENT_NOT_AVAILABLE', echo(msg));
    if (r.isBacklogged()) return this.error('RECIPIENT_BACKLOGGED', echo(msg));
    r.send(acceptText(text));
    this.hub.count('delivered');
    if ('id' in msg) this.send(`{"handler":"delivered","id":${JSON.stringify(msg.id)}}`);
    return undefined;
  }

  lookup(msg) {
    const r = this.hub.registry.get(msg.publicKeySig);
    if (r && !r.closed) {
      this.send(JSON.stringify({ handler: 'invite4', publicKeySig: msg.publicKeySig, publicKeyPem: r.pem }));
    } else {
      this.hub.count('RECIPIENT_NOT_AVAILABLE');
      this.send(JSON.stringify({ handler: 'invite4', publicKeySig: msg.publicKeySig, error: 'RECIPIENT_NOT_AVAILABLE' }));
    }
  }

  onClose() {
    this.closed = true;
    clearTimeout(this.regTimer);
    if (this.sig && this.hub.registry.get(this.sig) === this) this.hub.registry.delete(this.sig);
    this.hub.backlogged.delete(this);
  }
}
