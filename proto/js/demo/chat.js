// The chat: this tab's client and invite, its conversations (one per peer,
// in a contact list), starting one from a link, a SIG or a QR code, the
// outbox with delivery states, the reconnect banner, and the timeline of
// every state the client goes through.
import { Client, isSig } from './client/client.js';
import { Conversations, parseInvite } from './conversations.js';
import { Outbox } from './outbox.js';
import { ReconnectBanner } from './banner.js';
import { inviteQrDataUrl, readQrPicture, scanCamera } from './qr.js';
import { $, addTimeline, announce, showLag, showStatus, shortSig } from './view.js';
import { appendMessage, displayName, renderContacts, renderConversation, updateMessage } from './chat-view.js';

const GREETING = 'Hi! I opened your invite link.';
const TITLE = 'Reflector';

function inviteLink(sig) {
  return `${location.origin}${location.pathname}${location.search}#${sig}`;
}

// A timeline row per client event: what changed, and the detail that explains it.
function describe(d) {
  if (d.kind === 'socket') return d.code ? `code ${d.code}${d.reason ? ` ${d.reason}` : ''}` : '';
  if (d.kind === 'registration') return d.error ?? (d.t1 ? `t1 ${d.t1}` : '');
  const peer = d.to ? `to ${shortSig(d.to)}` : `from ${shortSig(d.from)}`;
  const ack = d.state === 'SENT' ? ' delivered' : '';
  return `#${d.id} ${peer}${ack}${d.error ? ` ${d.error}` : ''}`;
}

export async function startChat(url) {
  const client = new Client({ url });
  const model = new Conversations();
  const outbox = new Outbox(client, model);
  const banner = new ReconnectBanner(client, outbox);
  let stopped = null;
  const handlers = { onRetry: (m) => outbox.retry(m) };

  // ------------------------------------------------------------ drawing
  const looking = () => document.visibilityState !== 'hidden';
  const drawTitle = () => {
    const n = model.totalUnread;
    document.title = n ? `(${n}) ${TITLE}` : TITLE;
  };
  const drawList = () => renderContacts(model, select);
  model.addEventListener('change', (ev) => {
    const { sig, what, message } = ev.detail;
    const open = sig === model.selectedSig;
    if (what === 'message') {
      if (open) updateMessage(message);
      if (message.state === 'failed') announce(`Message to ${displayName(model.get(sig))} failed: ${message.reason}`);
      if (message.state === 'queued' || message.state === 'sending') banner.refresh();
    } else if (what === 'messages' && open) {
      if (message) appendMessage(message, model.get(sig), handlers);
      else renderConversation(model.get(sig), handlers);
    }
    drawList();
    drawTitle();
  });

  function select(sig, { focus = true } = {}) {
    closeRename();
    model.select(sig);
    if (focus) $('text').focus();
  }

  // ------------------------------------------------------------ client events
  const status = () => showStatus({ socket: client.socketState, registration: client.registrationState, stopped });
  client.addEventListener('state', (ev) => {
    const d = ev.detail;
    addTimeline(d.kind, d.state, describe(d), d.at);
    if (d.kind === 'registration' && d.state === 'VERIFIED') stopped = null;
    if (d.kind !== 'envelope') status();
    if (d.kind === 'socket' && d.state === 'CLOSED') showLag(null);
  });
  client.addEventListener('reconnect', (ev) => {
    addTimeline('reconnect', `attempt ${ev.detail.attempt}`, `in ${ev.detail.delayMs} ms`, ev.detail.at);
  });
  client.addEventListener('stopped', (ev) => {
    stopped = ev.detail.reason;
    addTimeline('client', 'STOPPED', stopped, ev.detail.at);
    status();
    showLag(null);
  });
  client.addEventListener('error', (ev) => addTimeline('relay', 'error', ev.detail.error, ev.detail.at));
  client.addEventListener('lag', (ev) => showLag(ev.detail.ms));
  client.addEventListener('message', (ev) => {
    const { from, body, at } = ev.detail;
    const text = typeof body?.text === 'string' ? body.text.slice(0, 2000) : '(a message without text)';
    model.addIncoming(from, text, { at, seen: looking() });
    const who = displayName(model.get(from));
    announce(from === model.selectedSig ? `${who}: ${text.slice(0, 140)}` : `New message from ${who}`);
  });
  document.addEventListener('visibilitychange', () => {
    if (looking() && model.selectedSig) model.markSeen(model.selectedSig);
  });

  // ------------------------------------------------------------ starting a conversation
  // From an invite link (opened, pasted or scanned) or a SIG. A guest who
  // opened the link greets the host, who otherwise cannot know of it.
  async function startConversation(sig, { name = '', greet = false } = {}) {
    if (sig === client.sig) {
      showStartError('That is your own invite. Open it in another tab or browser, or send it to someone.');
      return;
    }
    const known = Boolean(model.get(sig));
    model.open(sig, { name });
    select(sig);
    if (known && !greet) return;
    try {
      await client.ready(30000);
      await client.lookup(sig);
      model.addNotice(sig, `${shortSig(sig)} is connected.${greet ? ' Saying hello…' : ' Say hello!'}`);
      if (greet) outbox.send(sig, GREETING);
    } catch (e) {
      model.addNotice(sig, e.code === 'RECIPIENT_NOT_AVAILABLE'
        ? `${shortSig(sig)} is not connected to this relay right now: messages to them fail until they are.`
        : `Could not reach ${shortSig(sig)}: ${e.code ?? e.message}`);
    }
  }

  function showStartError(text) {
    $('start-error').textContent = text;
    $('start-input').setAttribute('aria-invalid', text ? 'true' : 'false');
  }

  $('start-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const sig = parseInvite($('start-input').value, isSig);
    if (!sig) {
      showStartError('Paste an invite link (it ends in #, then 43 letters, digits, - or _) or a signature.');
      $('start-input').focus();
      return;
    }
    showStartError('');
    const name = $('start-name').value;
    $('start-input').value = '';
    $('start-name').value = '';
    startConversation(sig, { name });
  });

  // A scanned code must be an invite link or a SIG to start anything.
  const fromCode = (text) => {
    const sig = parseInvite(text, isSig);
    if (!sig) {
      showStartError('That QR code is not an invite link.');
      return false;
    }
    showStartError('');
    startConversation(sig);
    return true;
  };
  $('scan-file').addEventListener('change', async () => {
    const file = $('scan-file').files[0];
    $('scan-file').value = '';
    if (!file) return;
    try {
      fromCode(await readQrPicture(file));
    } catch {
      showStartError('No QR code found in that picture.');
    }
  });
  let stopScan = null;
  const endScan = () => {
    stopScan?.();
    stopScan = null;
    $('scanner').hidden = true;
  };
  if (navigator.mediaDevices?.getUserMedia) {
    $('scan-camera').hidden = false;
    $('scan-camera').addEventListener('click', async () => {
      if (stopScan) return;
      showStartError('');
      $('scanner').hidden = false;
      try {
        stopScan = await scanCamera($('scan-video'), (text) => {
          if (!parseInvite(text, isSig)) return false;
          setTimeout(() => { endScan(); fromCode(text); }, 0);
          return true;
        });
        $('scan-cancel').focus();
      } catch (e) {
        endScan();
        showStartError(`The camera is not available: ${e.message}`);
      }
    });
    const cancelScan = () => {
      endScan();
      $('scan-camera').focus();
    };
    $('scan-cancel').addEventListener('click', cancelScan);
    $('scanner').addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape') cancelScan();
    });
  }

  // ------------------------------------------------------------ composing
  $('compose').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = $('text').value.replace(/^\s*\n|\s+$/g, '');
    if (!text.trim() || !model.selectedSig) return;
    $('text').value = '';
    outbox.send(model.selectedSig, text);
  });
  $('text').addEventListener('keydown', (ev) => {
    // Enter sends, Shift+Enter is a new line; not while an input method composes.
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      $('compose').requestSubmit();
    }
  });

  // ------------------------------------------------------------ renaming
  function closeRename() {
    $('rename-form').hidden = true;
  }
  $('rename').addEventListener('click', () => {
    const c = model.selected;
    if (!c) return;
    $('rename-form').hidden = false;
    $('rename-input').value = c.name;
    $('rename-input').focus();
  });
  $('rename-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (model.selectedSig) model.rename(model.selectedSig, $('rename-input').value);
    renderConversation(model.selected, handlers);
    closeRename();
    $('rename').focus();
  });
  const cancelRename = () => {
    closeRename();
    $('rename').focus();
  };
  $('rename-cancel').addEventListener('click', cancelRename);
  $('rename-form').addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') cancelRename();
  });

  // ------------------------------------------------------------ the invite
  $('copy-invite').addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText($('invite-link').href);
      $('copy-invite').textContent = 'Copied';
    } catch {
      $('copy-invite').textContent = 'Copy by hand';
    }
    setTimeout(() => { $('copy-invite').textContent = 'Copy link'; }, 1500);
  });
  window.addEventListener('hashchange', () => {
    const sig = location.hash.slice(1);
    if (!isSig(sig)) return;
    history.replaceState(null, '', `${location.pathname}${location.search}`);
    startConversation(sig, { greet: true });
  });

  status();
  drawList();
  renderConversation(null, handlers);
  await client.start();
  const link = inviteLink(client.sig);
  $('my-sig').textContent = client.sig;
  $('invite-link').href = link;
  $('invite-link').textContent = link;
  $('invite-qr').src = inviteQrDataUrl(link);
  $('invite-qr').hidden = false;
  // Handy for poking at the client from the console.
  window.reflector = client;

  // Opened on an invite link: the conversation with its host. The address
  // bar then shows this page again, not someone else's link.
  const hostSig = location.hash.slice(1);
  if (isSig(hostSig)) {
    history.replaceState(null, '', `${location.pathname}${location.search}`);
    await startConversation(hostSig, { greet: true });
  }
}
