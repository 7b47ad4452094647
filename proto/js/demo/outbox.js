// Sending the page's messages through the client, one lane per recipient so
// each conversation keeps the order it was typed in, every message with its
// delivery state in the Conversations model:
//
//   queued     waiting for the relay (offline, reconnecting, registering)
//   sending    being encrypted and written
//   sent       on the socket to the relay (the client's onTransmit)
//   delivered  the relay's `delivered` ack with the envelope's id
//   failed     the relay's refusal (RECIPIENT_NOT_AVAILABLE, RATE_LIMITED, ...)
//              or ours (TIMEOUT, TOO_LARGE, ...); retry() sends it again
//
// A message the relay never saw (the socket closed before it was written)
// goes back to queued and leaves when registered again: nothing typed
// offline is lost. Once on the wire, a lost connection is a failure, since
// the relay may or may not have delivered it.
//
// After a relay restart every tab reconnects at its own jittered moment, so
// the recipient of a message that waited through the outage may not be back
// yet: such a message gets RECIPIENT_NOT_AVAILABLE retried every retryMs for
// graceMs after our own registration, and only then fails.

export class Outbox {
  constructor(client, conversations, { graceMs = 20000, retryMs = 1000, now = () => Date.now() } = {}) {
    this.client = client;
    this.conversations = conversations;
    this.graceMs = graceMs;
    this.retryMs = retryMs;
    this.now = now;
    this.lanes = new Map(); // SIG -> { sig, items: [], busy, timer }
    client.addEventListener('state', (ev) => {
      if (ev.detail.kind === 'registration' && ev.detail.state === 'VERIFIED') this.#onVerified();
    });
  }

  // Messages waiting for the relay, for the reconnect banner.
  get queued() {
    let n = 0;
    for (const lane of this.lanes.values()) n += lane.items.filter((m) => m.state === 'queued').length;
    return n;
  }

  // A new outgoing message in sig's conversation, on its way.
  send(sig, text) {
    const m = this.conversations.addOutgoing(sig, text);
    this.#enqueue(m);
    return m;
  }

  retry(m) {
    if (m.dir !== 'out' || m.state !== 'failed') return;
    m.graceUntil = 0;
    this.#enqueue(m);
  }

  // Stops the timers (the tests' clean-up; a page lives as long as its tab).
  close() {
    for (const lane of this.lanes.values()) clearTimeout(lane.timer);
  }

  #enqueue(m) {
    this.conversations.setState(m, 'queued');
    let lane = this.lanes.get(m.sig);
    if (!lane) {
      lane = { sig: m.sig, items: [], busy: false, timer: null };
      this.lanes.set(m.sig, lane);
    }
    lane.items.push(m);
    this.#pump(lane);
  }

  #onVerified() {
    const graceUntil = this.now() + this.graceMs;
    for (const lane of this.lanes.values()) {
      for (const m of lane.items) if (m.state === 'queued') m.graceUntil = graceUntil;
      this.#pump(lane);
    }
  }

  #pump(lane) {
    if (lane.busy || lane.timer || lane.items.length === 0 || !this.client.verified) return;
    lane.busy = true;
    const m = lane.items[0];
    this.#attempt(m).then((outcome) => {
      lane.busy = false;
      if (outcome === 'done') lane.items.shift();
      if (outcome === 'later') {
        lane.timer = setTimeout(() => {
          lane.timer = null;
          this.#pump(lane);
        }, this.retryMs);
        return;
      }
      // 'requeue': stays first in its lane; the next VERIFIED sends it.
      this.#pump(lane);
    });
  }

  // One try of the lane's first message: 'done' (delivered or failed for
  // good), 'requeue' (the relay never saw it), 'later' (retry after retryMs).
  async #attempt(m) {
    const set = (state, reason) => this.conversations.setState(m, state, reason);
    // A retry in the grace stays "queued: waiting for the recipient" on the
    // page instead of flickering through sending and sent every retryMs.
    const retrying = m.state === 'queued' && m.reason === 'RECIPIENT_NOT_AVAILABLE';
    if (!retrying) set('sending');
    let onWire = false;
    try {
      await this.client.send(m.sig, { type: 'text', text: m.text }, {
        onTransmit: ({ id }) => {
          onWire = true;
          m.envelopeId = id;
          if (!retrying) set('sent');
        },
      });
      set('delivered');
      return 'done';
    } catch (e) {
      const code = e.code ?? 'ERROR';
      if (!onWire && (code === 'DISCONNECTED' || code === 'STOPPED' || !this.client.verified)) {
        set('queued');
        return 'requeue';
      }
      if (code === 'RECIPIENT_NOT_AVAILABLE' && (m.graceUntil ?? 0) > this.now()) {
        set('queued', code);
        return 'later';
      }
      set('failed', code);
      return 'done';
    }
  }
}
