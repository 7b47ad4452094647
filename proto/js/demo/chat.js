// The chat: this tab's client, its invite link, the conversation, and the
// timeline of every state the client goes through.
import { Client, isSig } from './client/client.js';
import { $, addMessage, addNotice, addTimeline, showLag, showStatus, shortSig } from './view.js';

const GREETING = 'Hi! I opened your invite link.';

function inviteLink(sig) {
  return `${location.origin}${location.pathname}${location.search}#${sig}`;
}

// A timeline row per client event: what changed, and the detail that explains it.
function describe(d) {
  if (d.kind === 'socket') return d.code ? `code ${d.code}${d.reason ? ` ${d.reason}` : ''}` : '';
  if (d.kind === 'registration') return d.error ?? (d.t1 ? `t1 ${d.t1}` : '');
  const peer = d.to ? `to ${shortSig(d.to)}` : `from ${shortSig(d.from)}`;
  return `#${d.id} ${peer}${d.error ? ` ${d.error}` : ''}`;
}

export async function startChat(url) {
  const client = new Client({ url });
  let peer = null; // the SIG our messages go to
  let stopped = null;

  const status = () => showStatus({ socket: client.socketState, registration: client.registrationState, stopped });
  const setPeer = (sig, why) => {
    peer = sig;
    $('peer').textContent = `with ${shortSig(sig)} (${why})`;
    $('peer').title = sig;
  };
  const setComposing = (on) => {
    $('text').disabled = !on;
    $('send').disabled = !on;
    $('text').placeholder = on ? 'Write a message…' : 'Share your invite link to start a chat';
  };

  client.addEventListener('state', (ev) => {
    const d = ev.detail;
    addTimeline(d.kind, d.state, describe(d), d.at);
    if (d.kind !== 'envelope') status();
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
    addMessage({ dir: 'in', who: shortSig(from), text, at });
    // The host answers whoever wrote last; a guest keeps its host.
    if (from !== peer) setPeer(from, 'wrote to you');
    setComposing(true);
  });

  async function sendText(text) {
    const mark = addMessage({ dir: 'out', who: 'you', text });
    mark('sending');
    try {
      await client.send(peer, { type: 'text', text });
      mark('sent ✓');
    } catch (e) {
      mark(`not sent: ${e.code ?? e.message}`, e.message);
    }
  }

  // A guest: look the host's key up (invite3) and say hello.
  async function greetHost(hostSig) {
    if (hostSig === client.sig) {
      addNotice('This is your own invite link: open it in another tab.');
      return;
    }
    setPeer(hostSig, 'invite link');
    setComposing(true);
    try {
      await client.lookup(hostSig);
      addNotice(`Found ${shortSig(hostSig)}'s key. Saying hello…`);
      await sendText(GREETING);
    } catch (e) {
      addNotice(e.code === 'RECIPIENT_NOT_AVAILABLE'
        ? `${shortSig(hostSig)} is not connected to this relay right now.`
        : `Could not reach ${shortSig(hostSig)}: ${e.code ?? e.message}`);
    }
  }

  $('compose').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = $('text').value.trim();
    if (!text || !peer) return;
    $('text').value = '';
    sendText(text);
  });
  $('copy-invite').addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText($('invite-link').href);
      $('copy-invite').textContent = 'Copied';
    } catch {
      $('copy-invite').textContent = 'Copy by hand';
    }
    setTimeout(() => { $('copy-invite').textContent = 'Copy'; }, 1500);
  });
  window.addEventListener('hashchange', () => {
    const sig = location.hash.slice(1);
    if (isSig(sig) && sig !== peer) client.ready().then(() => greetHost(sig), () => {});
  });

  status();
  await client.start();
  $('my-sig').textContent = client.sig;
  $('invite-link').href = inviteLink(client.sig);
  $('invite-link').textContent = inviteLink(client.sig);
  setComposing(false);
  // Handy for poking at the client from the console.
  window.reflector = client;

  const hostSig = location.hash.slice(1);
  if (isSig(hostSig)) {
    try {
      await client.ready(30000);
    } catch {
      return; // the timeline and status say why
    }
    await greetHost(hostSig);
  }
}
