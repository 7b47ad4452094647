// The tab's conversations, without the DOM: one per peer SIG, each with its
// messages, a name the person may give, and an unread count. The page draws
// from this model; tests drive it in Node. Everything lives as long as the
// tab (the key pair does too), bounded in count and length.
//
// A message: { n, dir: 'in' | 'out' | 'notice', text, at, state, reason }.
// Outgoing states: queued (waiting for the relay), sending, sent (on the
// socket to the relay), delivered (the relay's `delivered` ack), failed.
//
// Events: 'change' { sig, what: 'list' | 'messages' | 'message', message? }.

export const MAX_NAME = 40;
export const DELIVERY = Object.freeze(['queued', 'sending', 'sent', 'delivered', 'failed']);

const clean = (name) => String(name ?? '').replace(/\s+/g, ' ').trim().slice(0, MAX_NAME);

export class Conversations extends EventTarget {
  constructor({ maxConversations = 200, maxMessages = 500 } = {}) {
    super();
    this.maxConversations = maxConversations;
    this.maxMessages = maxMessages;
    this.bySig = new Map();
    this.selectedSig = null;
    this.n = 0;
  }

  get selected() {
    return this.bySig.get(this.selectedSig) ?? null;
  }

  get(sig) {
    return this.bySig.get(sig) ?? null;
  }

  // Most recent activity first (a new conversation counts as activity).
  list() {
    return [...this.bySig.values()].sort((a, b) => b.activity - a.activity);
  }

  get totalUnread() {
    let total = 0;
    for (const c of this.bySig.values()) total += c.unread;
    return total;
  }

  // The conversation with sig, made if new; a given name replaces the old one.
  open(sig, { name } = {}) {
    let c = this.bySig.get(sig);
    if (!c) {
      if (this.bySig.size >= this.maxConversations) this.#dropOldest();
      c = { sig, name: '', messages: [], unread: 0, activity: ++this.n };
      this.bySig.set(sig, c);
    }
    if (clean(name)) c.name = clean(name);
    this.#changed(sig, 'list');
    return c;
  }

  rename(sig, name) {
    const c = this.bySig.get(sig);
    if (!c) return;
    c.name = clean(name);
    this.#changed(sig, 'list');
  }

  select(sig) {
    const c = this.bySig.get(sig);
    if (!c) return;
    this.selectedSig = sig;
    c.unread = 0;
    this.#changed(sig, 'messages');
  }

  // A message that arrived; counts as unread unless its conversation is open
  // and the person is looking (`seen`).
  addIncoming(sig, text, { at = Date.now(), seen = true } = {}) {
    const c = this.open(sig);
    const m = this.#push(c, { dir: 'in', text, at });
    if (sig !== this.selectedSig || !seen) c.unread++;
    this.#changed(sig, 'messages', m);
    return m;
  }

  addOutgoing(sig, text, { at = Date.now() } = {}) {
    const c = this.open(sig);
    const m = this.#push(c, { dir: 'out', text, at, state: 'queued', reason: '' });
    this.#changed(sig, 'messages', m);
    return m;
  }

  // A line from the page itself (a look-up's outcome, ...), not a message.
  addNotice(sig, text) {
    const c = this.open(sig);
    const m = this.#push(c, { dir: 'notice', text, at: Date.now() }, { activity: false });
    this.#changed(sig, 'messages', m);
    return m;
  }

  // A delivery state of an outgoing message, with its reason when failed.
  setState(m, state, reason = '') {
    if (!DELIVERY.includes(state)) throw new RangeError(`unknown delivery state ${state}`);
    m.state = state;
    m.reason = reason;
    this.#changed(m.sig, 'message', m);
  }

  markSeen(sig) {
    const c = this.bySig.get(sig);
    if (!c || c.unread === 0) return;
    c.unread = 0;
    this.#changed(sig, 'list');
  }

  // The last message or notice, for the contact list.
  lastMessage(c) {
    for (let i = c.messages.length - 1; i >= 0; i--) if (c.messages[i].dir !== 'notice') return c.messages[i];
    return null;
  }

  #push(c, fields, { activity = true } = {}) {
    const m = { n: ++this.n, sig: c.sig, ...fields };
    c.messages.push(m);
    if (c.messages.length > this.maxMessages) c.messages.splice(0, c.messages.length - this.maxMessages);
    if (activity) c.activity = m.n;
    return m;
  }

  #dropOldest() {
    const victim = this.list().reverse().find((c) => c.sig !== this.selectedSig);
    if (victim) this.bySig.delete(victim.sig);
  }

  #changed(sig, what, message = null) {
    this.dispatchEvent(new CustomEvent('change', { detail: { sig, what, message } }));
  }
}

// What the person pasted or scanned: an invite link (`…#<SIG>`) or a bare
// SIG. Returns the SIG or null.
export function parseInvite(text, isSig) {
  const s = String(text ?? '').trim();
  if (isSig(s)) return s;
  let url;
  try {
    url = new URL(s);
  } catch {
    return null;
  }
  const sig = decodeURIComponent(url.hash.slice(1));
  return isSig(sig) ? sig : null;
}
