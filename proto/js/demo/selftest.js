// `/#selftest`: two clients in this page, each with its own key pair,
// register, one looks the other up, and they exchange one encrypted
// message each way. The verdict goes to document.title, where a headless
// browser's --dump-dom (or a person) can read it: `selftest: ok` or
// `selftest: failed: <reason>`.
import { Client } from './client/client.js';
import { $, el, shortSig } from './view.js';
import { holdVirtualTime } from './hold-time.js';

// Inside the 10 s virtual-time budget of the README's command, so a relay
// that never answers still gets a verdict before the page is read.
const TIMEOUT_MS = 8000;

function step(text) {
  const row = el('li', 'running', text);
  $('selftest-steps').append(row);
  return (ok, detail = '') => {
    row.className = ok ? 'ok' : 'failed';
    row.textContent = `${text}${detail ? `: ${detail}` : ''}`;
  };
}

function verdict(text, ok) {
  document.title = text;
  $('selftest-verdict').textContent = text;
  $('selftest-verdict').className = `verdict ${ok ? 'ok' : 'failed'}`;
  $('status-text').textContent = text;
  $('status').dataset.level = ok ? 'good' : 'bad';
}

// Resolves with the next message on `client`, rejects after ms.
function nextMessage(client, ms) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { client.removeEventListener('message', on); reject(new Error(`no message within ${ms} ms`)); }, ms);
    const on = (ev) => { clearTimeout(t); client.removeEventListener('message', on); resolve(ev.detail); };
    client.addEventListener('message', on);
  });
}

// One labelled step: its failure names the step in the verdict.
async function check(label, fn) {
  const done = step(label);
  try {
    const detail = await fn();
    done(true, detail);
  } catch (e) {
    done(false, e.code ?? e.message);
    throw new Error(`${label}: ${e.message}`);
  }
}

async function exchange(url) {
  // No reconnect loop: a self-test reports a relay that is down, it does not wait for it.
  const options = { url, reconnect: { maxAttempts: 0 }, registerTimeoutMs: 5000, requestTimeoutMs: 5000 };
  const A = new Client(options);
  const B = new Client(options);
  try {
    await check('two key pairs', async () => {
      await Promise.all([A.start(), B.start()]);
      if (A.sig === B.sig) throw new Error('the two clients share a SIG');
      return `${shortSig(A.sig)} and ${shortSig(B.sig)}`;
    });
    await check('both register with the relay', async () => {
      await Promise.all([A.ready(5000), B.ready(5000)]);
      return 'VERIFIED';
    });
    await check('B looks A up by SIG (invite3)', async () => {
      if ((await B.lookup(A.sig)) !== A.publicKeyPem) throw new Error('a different key came back');
      return 'key matches';
    });
    const nonce = Math.random().toString(36).slice(2);
    await check('B → A, encrypted', async () => {
      const got = nextMessage(A, 5000);
      await B.send(A.sig, { type: 'text', text: `ping ${nonce}` });
      const m = await got;
      if (m.from !== B.sig || m.body.text !== `ping ${nonce}`) throw new Error('A decrypted something else');
      return 'A decrypted it';
    });
    await check('A → B, encrypted', async () => {
      const got = nextMessage(B, 5000);
      await A.send(B.sig, { type: 'text', text: `pong ${nonce}` });
      const m = await got;
      if (m.from !== A.sig || m.body.text !== `pong ${nonce}`) throw new Error('B decrypted something else');
      return 'B decrypted it';
    });
  } finally {
    A.close();
    B.close();
  }
}

export async function runSelftest(url) {
  $('chat').hidden = true;
  $('selftest').hidden = false;
  document.title = 'selftest: running';
  $('status-text').textContent = `self-test against ${url}`;
  const release = holdVirtualTime();
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not done within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
  });
  try {
    await Promise.race([exchange(url), timeout]);
    verdict('selftest: ok', true);
  } catch (e) {
    verdict(`selftest: failed: ${e.message}`, false);
  } finally {
    clearTimeout(timer);
    release();
  }
}
