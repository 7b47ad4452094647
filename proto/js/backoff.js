// Reconnect delays. Exponential so a relay that is down for a while is not
// hammered; capped so a tab comes back within maxMs once it is up; jittered
// so the tabs that a relay restart dropped together do not return together.

export const BACKOFF_DEFAULTS = Object.freeze({
  baseMs: 500,
  factor: 2,
  maxMs: 30000,
  jitter: 0.2, // each delay is shortened by up to this fraction
  maxAttempts: 40, // then the client stops: a bound on a tab left open offline
});

// The delay before reconnect attempt `attempt` (0 for the first).
export function backoffDelay(attempt, options = {}, random = Math.random) {
  const { baseMs, factor, maxMs, jitter } = { ...BACKOFF_DEFAULTS, ...options };
  // Math.min before the power would overflow to Infinity for large attempts.
  const exp = Math.min(attempt, 64);
  const full = Math.min(maxMs, baseMs * factor ** exp);
  return Math.round(full * (1 - jitter * random()));
}
