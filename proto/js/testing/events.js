// Recording a client's events and waiting for one, bounded in time, for
// the unit tests and the Node tests alike.

// Every event of the given types, in order: [{ type, ...detail }].
export function record(target, types = ['state', 'message', 'lag', 'reconnect', 'error', 'stopped']) {
  const log = [];
  for (const type of types) target.addEventListener(type, (ev) => log.push({ type, ...ev.detail }));
  return log;
}

// The next event of `type` whose detail satisfies `match`; rejects after timeoutMs.
export function waitForEvent(target, type, match = () => true, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const onEvent = (ev) => {
      if (!match(ev.detail)) return;
      clearTimeout(timer);
      target.removeEventListener(type, onEvent);
      resolve(ev.detail);
    };
    const timer = setTimeout(() => {
      target.removeEventListener(type, onEvent);
      reject(new Error(`no '${type}' event matching ${match} within ${timeoutMs} ms`));
    }, timeoutMs);
    target.addEventListener(type, onEvent);
  });
}

// The states of one kind, in order, e.g. states(log, 'registration').
export function states(log, kind) {
  return log.filter((e) => e.type === 'state' && e.kind === kind).map((e) => e.state);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
