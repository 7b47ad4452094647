// The demo page's entry: `#selftest` runs the self-test, anything else is
// the chat (with `#<SIG>` being an invite link to that SIG's holder).
// Modules are loaded here with import(), not statically: if one cannot load
// (a missing vendor file, an old browser), the page still says why.

// protocol.md: the page opens ws(s)://<page host>/<page path>, hash stripped.
// `?relay=ws://…` points the page at another relay (the page itself may come
// from any static server, as in the tests' "relay stopped" case).
export function relayUrl(loc = window.location) {
  const override = new URLSearchParams(loc.search).get('relay');
  if (override) return override;
  const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${loc.host}${loc.pathname}${loc.search}`;
}

function fail(reason) {
  document.title = location.hash === '#selftest' ? `selftest: failed: ${reason}` : 'Reflector';
  document.getElementById('status-text').textContent = reason;
  document.getElementById('status').dataset.level = 'bad';
}

async function main() {
  if (!window.crypto?.subtle) {
    // WebCrypto exists only in secure contexts: https, or http on loopback.
    fail('no WebCrypto here: open the page over https or on 127.0.0.1/localhost');
    return;
  }
  const selftest = location.hash === '#selftest';
  let mod;
  try {
    mod = await import(selftest ? './selftest.js' : './chat.js');
  } catch (e) {
    fail(`cannot load the page's modules: ${e.message}`);
    return;
  }
  if (selftest) {
    mod.runSelftest(relayUrl());
    return;
  }
  mod.startChat(relayUrl());
  // A different page mode needs a clean page, not a patched one.
  window.addEventListener('hashchange', () => {
    if (location.hash === '#selftest') location.reload();
  });
}

main();
