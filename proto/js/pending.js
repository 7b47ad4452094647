// Requests waiting for the relay's answer (a `delivered` ack, an `invite4`),
// each with its own timeout, in a table with a hard cap so a relay that
// never answers cannot make it grow without bound.

export class RequestError extends Error {
  constructor(code, message = code) {
    super(message);
    this.name = 'RequestError';
    this.code = code;
  }
}

export class Pending {
  constructor(max = 1024) {
    this.max = max;
    this.entries = new Map();
  }

  get size() {
    return this.entries.size;
  }

  // A promise for key's answer. Asking for a key already waited on shares
  // that wait (two look-ups of one SIG make one request).
  wait(key, timeoutMs) {
    const existing = this.entries.get(key);
    if (existing) return { promise: existing.promise, fresh: false };
    if (this.entries.size >= this.max) {
      return { promise: Promise.reject(new RequestError('TOO_MANY_PENDING')), fresh: false };
    }
    let entry;
    const promise = new Promise((resolve, reject) => {
      entry = { resolve, reject };
    });
    entry.promise = promise;
    entry.timer = setTimeout(() => this.reject(key, new RequestError('TIMEOUT', `no answer within ${timeoutMs} ms`)), timeoutMs);
    this.entries.set(key, entry);
    return { promise, fresh: true };
  }

  resolve(key, value) {
    return this.#settle(key, (e) => e.resolve(value));
  }

  reject(key, error) {
    return this.#settle(key, (e) => e.reject(error));
  }

  rejectAll(error) {
    for (const key of [...this.entries.keys()]) this.reject(key, error);
  }

  #settle(key, fn) {
    const e = this.entries.get(key);
    if (!e) return false;
    clearTimeout(e.timer);
    this.entries.delete(key);
    fn(e);
    return true;
  }
}
