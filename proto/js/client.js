// A protocol-v1 client for the Reflector relay (shared/protocol.md), for
// browsers and Node 20: one key pair per tab, registration, encrypted
// envelopes, look-ups for invite links, a lag ping, and reconnection with
// backoff. Every state change is an event named as in protocol.md, so the
// demo page can draw a timeline and tests can follow the machine.
//
// Events (CustomEvent, payload in `detail`):
//   state     { kind: 'socket' | 'registration' | 'envelope', state, previous, at, ...info }
//   message   { from, body, id, at }              a decrypted envelope
//   lag       { ms, at }                          a ping's round trip
//   reconnect { attempt, delayMs, at }            a reconnect is scheduled
//   error     { error, at, ... }                  a relay error tied to no request
//   stopped   { reason, at }                      no more reconnects
import {
  SOCKET, REGISTRATION, ENVELOPE,
  FATAL_REGISTRATION_ERRORS, CLOSE_REPLACED, CLOSE_DROPPED,
} from './states.js';
import { createIdentity, makeRegister3, encryptText, decryptText, sigOfPem, isSig } from './identity.js';
import { backoffDelay, BACKOFF_DEFAULTS } from './backoff.js';
import { Pending, RequestError } from './pending.js';

export { RequestError };

export const CLIENT_DEFAULTS = Object.freeze({
  protocols: ['simpatico.v1'],
  pingIntervalMs: 10000,
  connectTimeoutMs: 10000, // CONNECTING for longer: give up on this socket
  registerTimeoutMs: 10000, // open to VERIFIED
  requestTimeoutMs: 10000, // a `delivered` ack or an `invite4`
  maxMessageBytes: 4096, // the relay's default --max-message; larger would close us
  maxPeers: 1024, // cached peer keys
  reconnect: BACKOFF_DEFAULTS,
});

const utf8Length = (s) => new TextEncoder().encode(s).length;

export class Client extends EventTarget {
  // url: the relay's ws(s):// URL. WebSocket: the constructor to use (the
  // browser's by default; npm `ws` or MockWebSocket elsewhere). identity:
  // from createIdentity(); made by start() when absent.
  constructor({ url, WebSocket = globalThis.WebSocket, identity = null, random = Math.random, ...options } = {}) {
    super();
    if (!url) throw new TypeError('Client needs a relay url');
    if (typeof WebSocket !== 'function') throw new TypeError('no WebSocket constructor: pass one as { WebSocket }');
    this.url = url;
    this.WebSocket = WebSocket;
    this.identity = identity;
    this.random = random;
    this.options = { ...CLIENT_DEFAULTS, ...options, reconnect: { ...BACKOFF_DEFAULTS, ...options.reconnect } };

    this.socketState = SOCKET.CLOSED;
    this.registrationState = REGISTRATION.UNREGISTERED;
    this.lagMs = null;
    this.stopped = false;
    this.stopReason = null;
    this.stoppedUnreachable = false; // stopped only because the relay did not answer

    this.ws = null;
    this.attempt = 0; // reconnects since the last VERIFIED
    this.timers = { connect: null, register: null, reconnect: null, ping: null };
    this.nextEnvelopeId = 1;
    this.ping = { seq: 0, outstanding: null }; // outstanding: { t, sentAt }
    this.acks = new Pending(); // envelope id -> delivered
    this.lookups = new Pending(); // SIG -> PEM
    this.readyWaiters = new Set();
    this.peers = new Map(); // SIG -> PEM, oldest first
    this.inbox = Promise.resolve(); // incoming envelopes, decrypted in order
    this.outbox = Promise.resolve(); // outgoing envelopes, sent in order
  }

  get sig() {
    return this.identity?.sig ?? null;
  }

  get publicKeyPem() {
    return this.identity?.publicKeyPem ?? null;
  }

  get verified() {
    return this.registrationState === REGISTRATION.VERIFIED;
  }

  // Makes the key pair if needed and connects. Resolves once connecting has
  // begun; await ready() for VERIFIED.
  async start() {
    if (!this.identity) this.identity = await createIdentity();
    this.stopped = false;
    this.stopReason = null;
    this.attempt = 0;
    if (!this.ws) this.#connect();
    return this;
  }

  // Resolves when registered (at once if already), rejects after timeoutMs
  // or when the client stops.
  ready(timeoutMs = this.options.registerTimeoutMs) {
    if (this.verified) return Promise.resolve(this);
    if (this.stopped) return Promise.reject(new RequestError('STOPPED', `client stopped: ${this.stopReason}`));
    return new Promise((resolve, reject) => {
      const w = {
        resolve: () => { clearTimeout(w.timer); resolve(this); },
        reject: (e) => { clearTimeout(w.timer); reject(e); },
      };
      w.timer = setTimeout(() => {
        this.readyWaiters.delete(w);
        reject(new RequestError('TIMEOUT', `not registered within ${timeoutMs} ms`));
      }, timeoutMs);
      this.readyWaiters.add(w);
    });
  }

  // Closes for good: no reconnect after this.
  close(reason = 'closed by the application') {
    this.#stop(reason);
    // No timer may outlive close(): the close handshake can take long or
    // never finish, and a pending ping must not keep a process alive.
    clearTimeout(this.timers.connect);
    clearTimeout(this.timers.register);
    clearInterval(this.timers.ping);
    const ws = this.ws;
    if (ws && ws.readyState <= 1) { // CONNECTING or OPEN
      this.#setSocket(SOCKET.CLOSING);
      try { ws.close(1000, 'bye'); } catch { /* already closing */ }
    }
  }

  // Skips the wait before the next reconnect attempt (a person's "reconnect
  // now"), or starts again after the client stopped for being unreachable.
  // Does nothing while a socket is open or being opened.
  reconnectNow() {
    if (this.ws) return;
    if (this.stopped) {
      // Another tab holding our key, a refused proof, close(): a retry cannot help.
      if (!this.identity || !this.stoppedUnreachable) return;
      this.stopped = false;
      this.stopReason = null;
      this.attempt = 0;
    }
    this.#connect();
  }

  // ------------------------------------------------------------ envelopes

  // Encrypts JSON(body) to toSig and sends it; resolves with { id } when the
  // relay has queued it for the recipient (its `delivered` ack), rejects with
  // a RequestError whose code is the relay's (e.g. RECIPIENT_NOT_AVAILABLE)
  // or ours (TIMEOUT, DISCONNECTED, TOO_LARGE, NO_KEY). onTransmit({ id, to,
  // bytes }) is called once the envelope is on the socket to the relay: a
  // DISCONNECTED before that means the relay never saw it, after it the
  // relay may have delivered it.
  async send(toSig, body, { timeoutMs = this.options.requestTimeoutMs, onTransmit = null } = {}) {
    if (!isSig(toSig)) throw new RequestError('BAD_SIG', `not a SIG: ${toSig}`);
    const id = this.nextEnvelopeId++;
    this.#envelope(ENVELOPE.SENDING, { id, to: toSig });
    try {
      // Encryption finishes in any order; the outbox puts envelopes on the
      // wire in the order send() was called, which the relay then keeps.
      const transmitted = this.outbox.then(() => this.#transmit(id, toSig, body, timeoutMs, onTransmit));
      this.outbox = transmitted.catch(() => {});
      await (await transmitted).ack;
      this.#envelope(ENVELOPE.SENT, { id, to: toSig });
      return { id };
    } catch (e) {
      const error = e instanceof RequestError ? e : new RequestError('ERROR', e.message);
      this.#envelope(ENVELOPE.ERROR, { id, to: toSig, error: error.code });
      throw error;
    }
  }

  // Encrypts and sends one envelope; resolves with the promise of its ack.
  async #transmit(id, toSig, body, timeoutMs, onTransmit) {
    await this.ready(timeoutMs);
    const pem = await this.#peerKey(toSig, timeoutMs);
    const text = JSON.stringify({
      handler: 'deliverEnvelop',
      from: this.sig,
      to: toSig,
      box: await encryptText(this.identity, pem, JSON.stringify(body)),
      // Always introduce ourselves: the recipient may know only our SIG
      // (an invite link's guest writes first) and must not need a look-up.
      fromPublicKeyPem: this.publicKeyPem,
      id,
    });
    const bytes = utf8Length(text);
    if (bytes > this.options.maxMessageBytes) {
      throw new RequestError('TOO_LARGE', `envelope of ${bytes} bytes, limit ${this.options.maxMessageBytes}`);
    }
    const { promise } = this.acks.wait(id, timeoutMs);
    if (!this.#sendJson(text)) this.acks.reject(id, new RequestError('DISCONNECTED'));
    else if (onTransmit) onTransmit({ id, to: toSig, bytes });
    // Wrapped, so awaiting the transmission does not also await the ack.
    return { ack: promise };
  }

  // The PEM registered under sig (invite3 -> invite4), checked to hash to sig
  // so the relay cannot hand us someone else's key.
  async lookup(sig, timeoutMs = this.options.requestTimeoutMs) {
    if (!isSig(sig)) throw new RequestError('BAD_SIG', `not a SIG: ${sig}`);
    await this.ready(timeoutMs);
    const { promise, fresh } = this.lookups.wait(sig, timeoutMs);
    if (fresh && !this.#sendJson(JSON.stringify({ handler: 'invite3', publicKeySig: sig }))) {
      this.lookups.reject(sig, new RequestError('DISCONNECTED'));
    }
    return promise;
  }

  async #peerKey(sig, timeoutMs) {
    return this.peers.get(sig) ?? this.lookup(sig, timeoutMs);
  }

  #rememberPeer(sig, pem) {
    if (this.peers.get(sig) === pem) return;
    this.peers.delete(sig);
    if (this.peers.size >= this.options.maxPeers) this.peers.delete(this.peers.keys().next().value);
    this.peers.set(sig, pem);
  }

  // ------------------------------------------------------------ socket

  #connect() {
    clearTimeout(this.timers.reconnect);
    let ws;
    try {
      ws = new this.WebSocket(this.url, this.options.protocols);
    } catch (e) {
      // A malformed URL throws at once; retrying it cannot help.
      this.#stop(`cannot open ${this.url}: ${e.message}`);
      return;
    }
    this.ws = ws;
    this.#setSocket(SOCKET.CONNECTING);
    this.#setRegistration(REGISTRATION.UNREGISTERED);
    this.timers.connect = setTimeout(() => this.#drop(ws, 'connect timeout'), this.options.connectTimeoutMs);
    ws.onopen = () => {
      if (ws !== this.ws) return;
      clearTimeout(this.timers.connect);
      this.#setSocket(SOCKET.OPEN);
      this.timers.register = setTimeout(() => this.#drop(ws, 'registration timeout'), this.options.registerTimeoutMs);
    };
    ws.onmessage = (ev) => {
      if (ws === this.ws) this.#onMessage(ev.data);
    };
    ws.onerror = () => { /* a close event follows and carries the news */ };
    ws.onclose = (ev) => {
      if (ws === this.ws) this.#onClose(ev.code, ev.reason);
    };
  }

  // Gives up on a socket that went quiet: stop listening to it and act as if
  // it closed, without waiting for a close that may never come.
  #drop(ws, reason) {
    if (ws !== this.ws) return;
    try { ws.close(); } catch { /* never opened */ }
    this.#onClose(CLOSE_DROPPED, reason);
  }

  #onClose(code, reason) {
    const ws = this.ws;
    if (ws) ws.onopen = ws.onmessage = ws.onclose = null;
    this.ws = null;
    clearTimeout(this.timers.connect);
    clearTimeout(this.timers.register);
    clearInterval(this.timers.ping);
    this.ping.outstanding = null;
    this.#setSocket(SOCKET.CLOSED, { code, reason: String(reason ?? '') });
    if (this.registrationState !== REGISTRATION.UNVERIFIED) this.#setRegistration(REGISTRATION.UNREGISTERED);
    const gone = new RequestError('DISCONNECTED', `connection closed (${code})`);
    this.acks.rejectAll(gone);
    this.lookups.rejectAll(gone);
    if (code === CLOSE_REPLACED) this.#stop('REPLACED: another connection registered this key');
    this.#scheduleReconnect(`close ${code}${reason ? ` ${reason}` : ''}`);
  }

  #scheduleReconnect(lastClose) {
    if (this.stopped) return;
    const { maxAttempts } = this.options.reconnect;
    if (this.attempt >= maxAttempts) {
      const retries = this.attempt ? ` after ${this.attempt} reconnect attempts` : '';
      this.#stop(`relay unreachable (${lastClose})${retries}`, { unreachable: true });
      return;
    }
    const delayMs = backoffDelay(this.attempt, this.options.reconnect, this.random);
    this.attempt++;
    this.#emit('reconnect', { attempt: this.attempt, delayMs });
    this.timers.reconnect = setTimeout(() => {
      if (!this.stopped) this.#connect();
    }, delayMs);
  }

  #stop(reason, { unreachable = false } = {}) {
    if (this.stopped) return;
    this.stopped = true;
    this.stopReason = reason;
    this.stoppedUnreachable = unreachable;
    clearTimeout(this.timers.reconnect);
    const e = new RequestError('STOPPED', `client stopped: ${reason}`);
    for (const w of this.readyWaiters) w.reject(e);
    this.readyWaiters.clear();
    this.#emit('stopped', { reason });
  }

  // True when the text went to an open socket.
  #sendJson(text) {
    const ws = this.ws;
    if (!ws || ws.readyState !== 1) return false;
    try {
      ws.send(text);
      return true;
    } catch {
      return false;
    }
  }

  // ------------------------------------------------------------ messages

  #onMessage(data) {
    let msg;
    try {
      msg = JSON.parse(typeof data === 'string' ? data : String(data));
    } catch {
      msg = null;
    }
    if (!msg || typeof msg !== 'object' || Array.isArray(msg)) {
      this.#emit('error', { error: 'BAD_JSON_FROM_RELAY' });
      return;
    }
    switch (msg.handler) {
      case 'register2': return void this.#onRegister2(msg);
      case 'register4': return this.#onRegister4(msg);
      case 'acceptEnvelop': {
        // One at a time, so envelopes surface in the order the relay sent them.
        this.inbox = this.inbox.then(() => this.#onEnvelope(msg));
        return undefined;
      }
      case 'delivered': return void this.acks.resolve(msg.id, msg);
      case 'invite4': return void this.#onInvite4(msg);
      case 'pong': return this.#onPong(msg);
      case 'error': return this.#onError(msg);
      default: return undefined; // a newer relay's message: not ours to judge
    }
  }

  async #onRegister2(msg) {
    const ws = this.ws;
    if (this.registrationState !== REGISTRATION.UNREGISTERED || typeof msg.publicKeyPem !== 'string') {
      // A second or malformed challenge: this relay's exchange is broken, start over.
      this.#setRegistration(REGISTRATION.ERROR, { error: 'UNEXPECTED_REGISTER2' });
      this.#drop(ws, 'unexpected register2');
      return;
    }
    this.#setRegistration(REGISTRATION.CHALLENGED, { t1: msg.t1 });
    let reply;
    try {
      reply = await makeRegister3(this.identity, msg);
    } catch (e) {
      this.#setRegistration(REGISTRATION.ERROR, { error: `proof: ${e.message}` });
      this.#drop(ws, 'cannot answer the challenge');
      return;
    }
    if (ws !== this.ws) return; // closed while we computed
    if (this.#sendJson(JSON.stringify(reply))) this.#setRegistration(REGISTRATION.RESPONDED);
  }

  #onRegister4(msg) {
    clearTimeout(this.timers.register);
    if (msg.state2 === REGISTRATION.VERIFIED) {
      this.attempt = 0;
      this.#setRegistration(REGISTRATION.VERIFIED);
      for (const w of this.readyWaiters) w.resolve();
      this.readyWaiters.clear();
      this.#startPing();
      return;
    }
    this.#setRegistration(REGISTRATION.UNVERIFIED, { error: msg.error });
    if (FATAL_REGISTRATION_ERRORS.has(msg.error)) this.#stop(`registration refused: ${msg.error}`);
    // The relay closes with 1008 next; onclose reconnects unless stopped.
  }

  async #onEnvelope(msg) {
    const { from, id } = msg;
    this.#envelope(ENVELOPE.RECEIVING, { id, from });
    try {
      if (!isSig(from) || msg.to !== this.sig) throw new Error('not addressed to us');
      let pem = this.peers.get(from);
      if (msg.fromPublicKeyPem && msg.fromPublicKeyPem !== pem) {
        // The relay checks `from` but not this key: it must hash to `from`.
        if ((await sigOfPem(msg.fromPublicKeyPem)) !== from) throw new Error('fromPublicKeyPem does not match from');
        pem = msg.fromPublicKeyPem;
      }
      if (!pem) pem = await this.lookup(from);
      const body = JSON.parse(await decryptText(this.identity, pem, msg.box));
      this.#rememberPeer(from, pem);
      this.#envelope(ENVELOPE.RECEIVED, { id, from });
      this.#emit('message', { from, body, id });
    } catch (e) {
      this.#envelope(ENVELOPE.ERROR, { id, from, error: e.code ?? e.message });
    }
  }

  async #onInvite4(msg) {
    const sig = msg.publicKeySig;
    if (msg.error || typeof msg.publicKeyPem !== 'string') {
      this.lookups.reject(sig, new RequestError(msg.error ?? 'NO_KEY'));
      return;
    }
    if ((await sigOfPem(msg.publicKeyPem)) !== sig) {
      this.lookups.reject(sig, new RequestError('KEY_MISMATCH', 'the key does not hash to the SIG asked for'));
      return;
    }
    this.#rememberPeer(sig, msg.publicKeyPem);
    this.lookups.resolve(sig, msg.publicKeyPem);
  }

  #onError(msg) {
    if (msg.id !== undefined && this.acks.reject(msg.id, new RequestError(msg.error))) return;
    this.#emit('error', { ...msg });
    if (msg.error === 'REPLACED') this.#stop('REPLACED: another connection registered this key');
  }

  // ------------------------------------------------------------ lag

  #startPing() {
    clearInterval(this.timers.ping);
    this.#sendPing();
    this.timers.ping = setInterval(() => this.#sendPing(), this.options.pingIntervalMs);
  }

  #sendPing() {
    const out = this.ping.outstanding;
    // A pong missing at the second tick after its ping: the path is dead even
    // if no close came (a sleeping laptop, a dropped NAT entry). Reconnect
    // instead of waiting. (1.5: ticks are not exactly one interval apart.)
    if (out && performance.now() - out.sentAt > 1.5 * this.options.pingIntervalMs) {
      this.#drop(this.ws, 'no pong');
      return;
    }
    if (out) return;
    const t = ++this.ping.seq;
    this.ping.outstanding = { t, sentAt: performance.now() };
    this.#sendJson(JSON.stringify({ handler: 'ping', t }));
  }

  #onPong(msg) {
    const out = this.ping.outstanding;
    if (!out || msg.t !== out.t) return;
    this.ping.outstanding = null;
    this.lagMs = Math.round(performance.now() - out.sentAt);
    this.#emit('lag', { ms: this.lagMs, serverTime: msg.serverTime });
  }

  // ------------------------------------------------------------ events

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail: { ...detail, at: Date.now() } }));
  }

  #setSocket(state, info = {}) {
    if (state === this.socketState) return;
    const previous = this.socketState;
    this.socketState = state;
    this.#emit('state', { kind: 'socket', state, previous, ...info });
  }

  #setRegistration(state, info = {}) {
    if (state === this.registrationState) return;
    const previous = this.registrationState;
    this.registrationState = state;
    this.#emit('state', { kind: 'registration', state, previous, ...info });
  }

  #envelope(state, info) {
    this.#emit('state', { kind: 'envelope', state, ...info });
  }
}

export { SOCKET, REGISTRATION, ENVELOPE } from './states.js';
export { createIdentity, isSig } from './identity.js';
