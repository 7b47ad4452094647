// Reconnect delays. Exponential so a relay that is down for a while is not
// hammered; capped so a tab comes back within maxMs once it is up; jittered
// so the tabs that a relay restart dropped together do not return together.
//
// Full jitter by default: each delay is drawn uniformly from (0, ceiling],
// ceiling = min(maxMs, baseMs * factor^attempt). A relay that restarts under
// thousands of tabs then sees their returns spread over the whole window
// instead of a wave every ceiling ms. `jitter` is the fraction of the
// ceiling that may be taken off: 1 is full jitter, 0 none (for tests that
// want exact delays).

export const BACKOFF_DEFAULTS = Object.freeze({
  baseMs: 500,
  factor: 2,
  maxMs: 30000,
  jitter: 1,
  maxAttempts: 40, // then the client stops: a bound on a tab left open offline
});

// The ceiling of reconnect attempt `attempt` (0 for the first).
export function backoffCeiling(attempt, options = {}) {
  const { baseMs, factor, maxMs } = { ...BACKOFF_DEFAULTS, ...options };
  // Math.min before the power would overflow to Infinity for large attempts.
  const exp = Math.min(attempt, 64);
  return Math.min(maxMs, baseMs * factor ** exp);
}

// The delay before reconnect attempt `attempt`. random() is in [0, 1), so
// with full jitter the delay is in (0, ceiling].
export function backoffDelay(attempt, options = {}, random = Math.random) {
  const { jitter } = { ...BACKOFF_DEFAULTS, ...options };
  const ceiling = backoffCeiling(attempt, options);
  return Math.round(ceiling * (1 - jitter * random()));
}
