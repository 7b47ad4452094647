// Client messages (protocol.md): which handler, whether its fields have
// the right form, what an error reply echoes, and the acceptEnvelop
// rewrite that forwards the sender's bytes with only the handler changed.
import { rawValueSpan } from './json_scan.mjs';

const HANDLERS = new Set(['register3', 'ping', 'deliverEnvelop', 'invite3']);
const SIG = /^[A-Za-z0-9_-]{43}$/;
const HEX = /^(?:[0-9a-fA-F]{2})+$/;

export const isSig = (v) => typeof v === 'string' && SIG.test(v);

// { handler, msg } or { error: BAD_JSON | UNKNOWN_HANDLER }.
export function parseMessage(text) {
  let msg;
  try {
    msg = JSON.parse(text);
  } catch {
    return { error: 'BAD_JSON' };
  }
  if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) return { error: 'BAD_JSON' };
  if (typeof msg.handler !== 'string' || !HANDLERS.has(msg.handler)) return { error: 'UNKNOWN_HANDLER' };
  return { handler: msg.handler, msg };
}

const isId = (v) => typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));

// True when a deliverEnvelop or invite3 lacks a field or has one of the wrong form.
export function badEnvelope(handler, m) {
  if (handler === 'invite3') return !isSig(m.publicKeySig);
  return !isSig(m.from) || !isSig(m.to) || typeof m.box !== 'string' || !HEX.test(m.box)
    || ('fromPublicKeyPem' in m && typeof m.fromPublicKeyPem !== 'string')
    || ('id' in m && !isId(m.id));
}

// The fields an error reply copies from the message, where well formed.
export function echo(m) {
  const e = {};
  if (isSig(m.to)) e.to = m.to;
  if ('id' in m && isId(m.id)) e.id = m.id;
  return e;
}

// The sender's text with "deliverEnvelop" turned into "acceptEnvelop"
// padded with spaces to the same length, so nothing else moves.
export function acceptText(text) {
  const [s, e] = rawValueSpan(text, 'handler');
  return `${text.slice(0, s)}${'"acceptEnvelop"'.padEnd(e - s, ' ')}${text.slice(e)}`;
}
