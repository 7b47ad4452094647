// Two users of the 2025 Simpatico chat, with upstream's client unchanged:
// each registers over /<its key> with SecureWebSocketClient.create, then
// alice sends bob a message with send(); the title tells the test.
import SecureWebSocketClient from './lab/websocket/SecureWebSocketClient.js';
import * as crypto from './lab/websocket/crypto.js';

function befriend(user, other) {
  user.contacts = user.contacts || {};
  user.contacts[other.publicKeyString] = {
    publicKeyString: other.publicKeyString,
    sharedSecret: crypto.deriveSharedSecret(user.privateKeyBits, other.publicKeyBits),
  };
}

async function main() {
  const alice = crypto.generateEncryptionKeys();
  const bob = crypto.generateEncryptionKeys();
  befriend(alice, bob);
  befriend(bob, alice);
  let got;
  const received = new Promise((resolve) => { got = resolve; });
  const bobClient = await SecureWebSocketClient.create(bob, (err, m) => got(m));
  const aliceClient = await SecureWebSocketClient.create(alice, () => {});
  if (!bobClient.isRegistered || !aliceClient.isRegistered) throw new Error('not registered');
  aliceClient.send(alice.contacts[bob.publicKeyString], { text: 'hello from the 2025 client' });
  const m = await received;
  const from = m.from.publicKeyString === alice.publicKeyString ? 'alice' : 'someone else';
  document.title = `ok: ${m.message.text} (from ${from})`;
}

main().catch((e) => { document.title = `failed: ${e && e.message}`; });
