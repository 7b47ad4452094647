// The state names of protocol.md ("States"), shared by the client, its
// events and the demo page's timeline, so a log line on either end of the
// wire reads the same.

// Socket: the WebSocket's own readyState names, in readyState order.
export const SOCKET = Object.freeze({
  CONNECTING: 'CONNECTING',
  OPEN: 'OPEN',
  CLOSING: 'CLOSING',
  CLOSED: 'CLOSED',
});

// Registration (state2). COMPUTING is the relay's own step (the proof on its
// crypto pool); a client sees RESPONDED until register4 arrives.
export const REGISTRATION = Object.freeze({
  UNREGISTERED: 'UNREGISTERED',
  CHALLENGED: 'CHALLENGED',
  RESPONDED: 'RESPONDED',
  COMPUTING: 'COMPUTING',
  VERIFIED: 'VERIFIED',
  UNVERIFIED: 'UNVERIFIED',
  ERROR: 'ERROR',
});

// Envelopes (state3), one machine per envelope: SENDING -> SENT for ours,
// RECEIVING -> RECEIVED for theirs, ERROR for either.
export const ENVELOPE = Object.freeze({
  SENDING: 'SENDING',
  SENT: 'SENT',
  RECEIVING: 'RECEIVING',
  RECEIVED: 'RECEIVED',
  ERROR: 'ERROR',
});

// Registration errors that a retry cannot fix: the proof itself is wrong,
// so reconnecting would only repeat the refusal.
export const FATAL_REGISTRATION_ERRORS = Object.freeze(new Set([
  'BAD_PUBLIC_KEY', 'WRONG_CURVE', 'SIG_MISMATCH', 'BAD_CLEARTEXT',
  'T1_MISMATCH', 'BAD_CYPHERTEXT', 'PROOF_FAILED',
]));

// Close code the relay uses when another connection took over our SIG.
export const CLOSE_REPLACED = 4000;
// The code a client reports for a socket it gave up on itself (a connect,
// registration or pong timeout): no close frame came, so none is the relay's.
export const CLOSE_DROPPED = 4999;
