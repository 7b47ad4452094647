// Holds headless Chromium's virtual time nearly still while the self-test
// waits for the relay. Under `--virtual-time-budget` (the README's
// operator command) virtual time leaps to the next timer, or to the end of
// the budget, whenever the page is idle, and a WebSocket reply does not
// count as a pending fetch: a page idling for a 5 ms answer is read before
// the answer comes. A page that always has a task queued is never idle, so
// a cheap message loop keeps the clock (almost) still until the verdict.
// In an ordinary tab it costs one busy core for the second the test runs.

const MAX_SPINS = 5_000_000; // a bound even if stop() were never called

export function holdVirtualTime() {
  const channel = new MessageChannel();
  let spins = 0;
  let held = true;
  channel.port1.onmessage = () => {
    if (held && ++spins < MAX_SPINS) channel.port2.postMessage(0);
  };
  channel.port2.postMessage(0);
  return () => {
    held = false;
    channel.port1.close();
  };
}
