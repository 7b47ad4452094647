// Drawing helpers shared by the chat and the self-test. Everything that came
// over the wire (message text, SIGs, error codes) goes into the page through
// textContent only, never as HTML: a peer's message is data, and must not be
// able to become markup or script.

const MAX_TIMELINE = 300; // rows kept; older ones are dropped

export const $ = (id) => document.getElementById(id);

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = String(text);
  return node;
}

export const shortSig = (sig) => (sig ? `${sig.slice(0, 8)}…` : '');

export function clock(at, { ms = true } = {}) {
  const d = new Date(at);
  const pad = (n, w = 2) => String(n).padStart(w, '0');
  const hms = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return ms ? `${hms}.${pad(d.getMilliseconds(), 3)}` : hms;
}

// Keeps a list at most `max` long, dropping the oldest rows.
export function trim(list, max) {
  while (list.children.length > max) list.firstElementChild.remove();
}

// True when a scrolled list shows its end (then new rows keep it there).
export const atBottom = (list) => list.scrollHeight - list.scrollTop - list.clientHeight < 24;

// good: registered; wait: on the way; bad: down or refused.
const LEVEL = {
  VERIFIED: 'good',
  CONNECTING: 'wait', OPEN: 'wait', CHALLENGED: 'wait', RESPONDED: 'wait', UNREGISTERED: 'wait',
  CLOSING: 'bad', CLOSED: 'bad', UNVERIFIED: 'bad', ERROR: 'bad',
};

// The header's status: a word for people, the protocol states beside it.
export function showStatus({ socket, registration, stopped }) {
  const level = stopped ? 'bad' : LEVEL[socket === 'OPEN' ? registration : socket] ?? 'wait';
  const word = { good: 'Online', wait: 'Connecting', bad: 'Offline' }[level];
  const text = stopped ? `Offline: ${stopped}` : `${word} · socket ${socket} · ${registration}`;
  $('status-text').textContent = text;
  $('status').dataset.level = level;
}

export function showLag(ms) {
  $('lag').textContent = ms === null ? '' : `lag ${ms} ms`;
}

// One timeline row: time, kind (socket / registration / envelope / …), state, detail.
export function addTimeline(kind, state, detail = '', at = Date.now()) {
  const list = $('timeline');
  const follow = atBottom(list);
  const row = el('li', `t-${kind}`);
  row.append(el('time', 'when', clock(at)), el('span', 'kind', kind), el('span', 'state', state), el('span', 'detail', detail));
  row.dataset.state = state;
  list.append(row);
  trim(list, MAX_TIMELINE);
  if (follow) list.scrollTop = list.scrollHeight;
}

// A polite, one-time announcement for screen readers.
export function announce(text) {
  const region = $('announce');
  region.textContent = '';
  // A fresh text node after a tick is announced even if the text repeats.
  setTimeout(() => { region.textContent = text; }, 50);
}
