// A WebSocket with the browser's interface (readyState, send, close, the
// open/message/error/close events and their on* handlers) whose other end
// is a MockServer in the same process, with simulated network delays. The
// client's whole state machine runs over it without a socket, as the seed
// did (protocol.md, "States"); tests script the server's side.
//
//   const server = new MockServer({ latencyMs: 5 });
//   server.onconnection = (peer) => { peer.onmessage = (text) => peer.send(text); };
//   const ws = new server.WebSocket('ws://mock/');

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

function makeEvent(type, fields = {}) {
  if (type === 'message' && typeof MessageEvent === 'function') return new MessageEvent('message', fields);
  return Object.assign(new Event(type), fields);
}

export class MockWebSocket extends EventTarget {
  static CONNECTING = CONNECTING;
  static OPEN = OPEN;
  static CLOSING = CLOSING;
  static CLOSED = CLOSED;

  constructor(url, protocols = [], server) {
    super();
    if (!(server instanceof MockServer)) throw new TypeError('MockWebSocket needs a MockServer (use server.WebSocket)');
    this.url = String(new URL(url));
    this.protocol = '';
    this.extensions = '';
    this.binaryType = 'blob';
    this.bufferedAmount = 0;
    this.readyState = CONNECTING;
    this.onopen = this.onmessage = this.onerror = this.onclose = null;
    this.server = server;
    this.peer = null;
    const offered = typeof protocols === 'string' ? [protocols] : [...protocols];
    server.later(server.openDelayMs, () => server.accept(this, offered));
  }

  send(data) {
    if (this.readyState === CONNECTING) throw new DOMException('still connecting', 'InvalidStateError');
    // Like a browser: data sent after close began is dropped without an error.
    if (this.readyState !== OPEN) return;
    const peer = this.peer;
    this.server.later(this.server.latencyMs, () => peer.receive(String(data)));
  }

  close(code = 1000, reason = '') {
    if (this.readyState >= CLOSING) return;
    if (this.readyState === CONNECTING) {
      // A browser aborts the handshake: error, then close 1006.
      this.readyState = CLOSED;
      this.server.later(0, () => {
        this.fire('error');
        this.fire('close', { code: 1006, reason: '', wasClean: false });
      });
      return;
    }
    this.readyState = CLOSING;
    const peer = this.peer;
    // The close frame travels to the server, its answer travels back.
    this.server.later(this.server.latencyMs, () => {
      peer.closedBy(code, reason);
      this.server.later(this.server.latencyMs, () => this.finish(code, reason, true));
    });
  }

  // Called by the server side.
  opened(peer, protocol) {
    if (this.readyState !== CONNECTING) return; // aborted meanwhile
    this.peer = peer;
    this.protocol = protocol;
    this.readyState = OPEN;
    this.fire('open');
  }

  refused() {
    if (this.readyState !== CONNECTING) return;
    this.readyState = CLOSED;
    this.fire('error');
    this.fire('close', { code: 1006, reason: '', wasClean: false });
  }

  deliver(text) {
    if (this.readyState === OPEN) this.fire('message', { data: text });
  }

  finish(code, reason, wasClean) {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    if (!wasClean) this.fire('error');
    this.fire('close', { code, reason, wasClean });
  }

  fire(type, fields) {
    const ev = makeEvent(type, fields);
    this.dispatchEvent(ev);
    const handler = this[`on${type}`];
    if (typeof handler === 'function') handler.call(this, ev);
  }
}

// The server side of one mock connection.
export class MockPeer {
  constructor(server, client, protocol) {
    this.server = server;
    this.client = client;
    this.protocol = protocol;
    this.url = client.url;
    this.open = true;
    this.onmessage = null; // (text) => void
    this.onclose = null; // (code, reason) => void
  }

  send(text) {
    if (!this.open) return;
    this.server.later(this.server.latencyMs, () => this.client.deliver(String(text)));
  }

  // A clean close started by the server.
  close(code = 1000, reason = '') {
    if (!this.open) return;
    this.gone(code, reason);
    this.server.later(this.server.latencyMs, () => this.client.finish(code, reason, true));
  }

  // The network cut: the client sees 1006 and no close frame.
  drop() {
    if (!this.open) return;
    this.gone(1006, 'dropped');
    this.server.later(this.server.latencyMs, () => this.client.finish(1006, '', false));
  }

  receive(text) {
    if (this.open && this.onmessage) this.onmessage(text);
  }

  closedBy(code, reason) {
    if (this.open) this.gone(code, reason);
  }

  gone(code, reason) {
    this.open = false;
    this.server.connections.delete(this);
    if (this.onclose) this.onclose(code, reason);
  }
}

export class MockServer {
  // latencyMs: one-way delay of every frame; openDelayMs: the handshake's.
  constructor({ latencyMs = 1, openDelayMs = latencyMs, protocols = ['simpatico.v1'] } = {}) {
    this.latencyMs = latencyMs;
    this.openDelayMs = openDelayMs;
    this.protocols = protocols;
    this.refuse = false; // true: connections fail as if nothing listened
    this.stall = false; // true: handshakes never complete
    this.onconnection = null; // (peer) => void
    this.connections = new Set();
    this.attempts = 0;
    this.timers = new Set();
    const server = this;
    // A WebSocket constructor bound to this server, to hand to a client.
    this.WebSocket = class extends MockWebSocket {
      constructor(url, protocols) {
        super(url, protocols, server);
      }
    };
  }

  later(ms, fn) {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  accept(ws, offered) {
    this.attempts++;
    if (ws.readyState !== CONNECTING) return;
    if (this.stall) return;
    if (this.refuse) {
      ws.refused();
      return;
    }
    const protocol = offered.find((p) => this.protocols.includes(p)) ?? '';
    const peer = new MockPeer(this, ws, protocol);
    this.connections.add(peer);
    ws.opened(peer, protocol);
    if (this.onconnection) this.onconnection(peer);
  }

  // Cuts every connection, as a relay that dies does.
  dropAll() {
    for (const peer of [...this.connections]) peer.drop();
  }

  // Cancels every scheduled delivery, so a test ends with no timer left.
  shutdown() {
    this.refuse = true;
    for (const peer of [...this.connections]) peer.drop();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
