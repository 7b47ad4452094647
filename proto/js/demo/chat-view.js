// Drawing the contact list and the open conversation from the Conversations
// model. Text from peers and names from the person go in through
// textContent only (view.js says why).
import { $, el, clock, shortSig, trim, atBottom } from './view.js';

const MAX_ROWS = 500;
const PREVIEW = 60; // characters of the last message in the contact list

export const displayName = (c) => c.name || shortSig(c.sig);

// What a person reads beside an outgoing message.
export function deliveryText(m) {
  if (m.state === 'failed') return `failed: ${m.reason}`;
  if (m.state === 'queued') return m.reason ? 'queued: waiting for them to reconnect' : 'queued: waiting for the relay';
  if (m.state === 'sending') return 'sending…';
  return m.state; // sent, delivered
}

function preview(m) {
  const flat = m.text.replace(/\s+/g, ' ').trim();
  const cut = flat.length > PREVIEW ? `${flat.slice(0, PREVIEW)}…` : flat;
  if (m.dir !== 'out') return cut;
  return m.state === 'failed' ? `You: ${cut} (not sent)` : `You: ${cut}`;
}

// The whole list, most recent first; keeps keyboard focus on the same contact.
export function renderContacts(model, onSelect) {
  const list = $('contacts');
  const focused = document.activeElement?.closest?.('#contacts li')?.dataset.sig;
  list.replaceChildren(...model.list().map((c) => contactRow(model, c, onSelect)));
  $('no-contacts').hidden = model.list().length > 0;
  if (focused) list.querySelector(`li[data-sig="${focused}"] button`)?.focus();
}

function contactRow(model, c, onSelect) {
  const li = el('li');
  li.dataset.sig = c.sig;
  const button = el('button', 'contact');
  button.type = 'button';
  if (c.sig === model.selectedSig) button.setAttribute('aria-current', 'true');
  const top = el('span', 'c-top');
  top.append(el('span', 'c-name', displayName(c)));
  if (c.unread > 0) {
    const badge = el('span', 'c-unread', c.unread);
    badge.append(el('span', 'visually-hidden', ' unread'));
    top.append(badge);
  }
  button.append(top);
  if (c.name) button.append(el('span', 'c-sig', shortSig(c.sig)));
  const last = model.lastMessage(c);
  button.append(el('span', 'c-last', last ? preview(last) : 'no messages yet'));
  button.addEventListener('click', () => onSelect(c.sig));
  li.append(button);
  return li;
}

// The header, the composer's label and every message of conversation c
// (null: none open).
export function renderConversation(c, handlers) {
  $('conv-title').textContent = c ? displayName(c) : 'No conversation open';
  $('conv-sig').textContent = c ? c.sig : '';
  $('rename').hidden = !c;
  $('empty-conversation').hidden = Boolean(c);
  $('text-label').textContent = c ? `Message to ${displayName(c)}` : 'Message';
  $('text').disabled = !c;
  $('send').disabled = !c;
  $('text').placeholder = c ? `Message to ${displayName(c)}` : 'Open a conversation first';
  const list = $('messages');
  list.replaceChildren(...(c ? c.messages.map((m) => messageRow(m, c, handlers)) : []));
  list.hidden = !c;
  list.scrollTop = list.scrollHeight;
}

export function appendMessage(m, c, handlers) {
  const list = $('messages');
  const follow = atBottom(list) || m.dir === 'out';
  list.append(messageRow(m, c, handlers));
  trim(list, MAX_ROWS);
  if (follow) list.scrollTop = list.scrollHeight;
}

// A new delivery state of a message already drawn.
export function updateMessage(m) {
  const row = $('messages').querySelector(`li[data-n="${m.n}"]`);
  if (row) paint(row, m);
}

function messageRow(m, c, { onRetry }) {
  if (m.dir === 'notice') {
    const li = el('li', 'notice', m.text);
    li.dataset.n = m.n;
    return li;
  }
  const li = el('li', `msg ${m.dir}`);
  li.dataset.dir = m.dir;
  li.dataset.n = m.n;
  const meta = el('div', 'meta');
  meta.append(el('span', 'who', m.dir === 'out' ? 'You' : displayName(c)), el('time', 'when', clock(m.at, { ms: false })));
  if (m.dir === 'out') {
    const retry = el('button', 'retry', 'Retry');
    retry.type = 'button';
    retry.addEventListener('click', () => onRetry(m));
    meta.append(el('span', 'delivery'), retry);
  }
  li.append(meta, el('div', 'text', m.text));
  paint(li, m);
  return li;
}

function paint(row, m) {
  if (m.dir !== 'out') return;
  row.dataset.state = m.state;
  const delivery = row.querySelector('.delivery');
  delivery.textContent = deliveryText(m);
  // The envelope's id ties the message to its rows in the timeline.
  delivery.title = m.envelopeId === undefined ? '' : `envelope #${m.envelopeId}`;
  const retry = row.querySelector('.retry');
  const wasFocused = document.activeElement === retry;
  retry.hidden = m.state !== 'failed';
  // A retry button that vanishes under the keyboard focus hands it to the message box.
  if (wasFocused && retry.hidden) $('text').focus();
}
