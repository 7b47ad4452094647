// Drawing the page. Everything that came over the wire (message text, SIGs,
// error codes) goes into the page through textContent only, never as HTML:
// a peer's message is data, and must not be able to become markup or script.

const MAX_TIMELINE = 300; // rows kept; older ones are dropped
const MAX_MESSAGES = 500;

export const $ = (id) => document.getElementById(id);

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = String(text);
  return node;
}

export const shortSig = (sig) => (sig ? `${sig.slice(0, 8)}…` : '');

function clock(at) {
  const d = new Date(at);
  const pad = (n, w = 2) => String(n).padStart(w, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

// Keeps a list at most `max` long, dropping the oldest rows.
function trim(list, max) {
  while (list.children.length > max) list.firstElementChild.remove();
}

// good: registered; wait: on the way; bad: down or refused.
const LEVEL = {
  VERIFIED: 'good',
  CONNECTING: 'wait', OPEN: 'wait', CHALLENGED: 'wait', RESPONDED: 'wait', UNREGISTERED: 'wait',
  CLOSING: 'bad', CLOSED: 'bad', UNVERIFIED: 'bad', ERROR: 'bad',
};

export function showStatus({ socket, registration, stopped }) {
  const text = stopped ? `offline: ${stopped}` : `socket ${socket} · ${registration}`;
  $('status-text').textContent = text;
  $('status').dataset.level = stopped ? 'bad' : LEVEL[socket === 'OPEN' ? registration : socket] ?? 'wait';
}

export function showLag(ms) {
  $('lag').textContent = ms === null ? '' : `lag ${ms} ms`;
}

// One timeline row: time, kind (socket / registration / envelope / …), state, detail.
export function addTimeline(kind, state, detail = '', at = Date.now()) {
  const list = $('timeline');
  const row = el('li', `t-${kind}`);
  row.append(el('time', 'when', clock(at)), el('span', 'kind', kind), el('span', 'state', state), el('span', 'detail', detail));
  row.dataset.state = state;
  list.append(row);
  trim(list, MAX_TIMELINE);
  list.scrollTop = list.scrollHeight;
}

// A message row; returns a setter for its delivery status (outgoing ones).
export function addMessage({ dir, who, text, at = Date.now() }) {
  const list = $('messages');
  const row = el('li', `msg ${dir}`);
  row.dataset.dir = dir;
  const meta = el('div', 'meta');
  meta.append(el('span', 'who', who), el('time', 'when', clock(at).slice(0, 8)));
  const status = el('span', 'delivery');
  meta.append(status);
  row.append(meta, el('div', 'text', text));
  list.append(row);
  trim(list, MAX_MESSAGES);
  list.scrollTop = list.scrollHeight;
  return (s, title = '') => {
    status.textContent = s;
    status.title = title;
    row.dataset.delivery = s;
  };
}

export function addNotice(text) {
  const list = $('messages');
  list.append(el('li', 'notice', text));
  trim(list, MAX_MESSAGES);
  list.scrollTop = list.scrollHeight;
}
