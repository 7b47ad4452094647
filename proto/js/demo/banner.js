// The reconnect banner: shown while the relay is lost, with the countdown to
// the client's next attempt (the backoff's own delay, from its `reconnect`
// event), how many messages wait, and a button to try at once. Screen
// readers hear the loss and the return once, not every tick.
import { $, announce } from './view.js';

const TICK_MS = 250;

export class ReconnectBanner {
  constructor(client, outbox) {
    this.client = client;
    this.outbox = outbox;
    this.next = null; // { attempt, at } of the scheduled attempt
    this.timer = null;
    this.lost = false;
    this.everConnected = false; // "lost" or, on a first load, "cannot reach"
    client.addEventListener('reconnect', (ev) => {
      this.next = { attempt: ev.detail.attempt, at: ev.detail.at + ev.detail.delayMs };
      if (!this.lost) announce(`${this.#headline()} Reconnecting.`);
      this.lost = true;
      this.#tick();
    });
    client.addEventListener('state', (ev) => {
      const d = ev.detail;
      if (d.kind === 'registration' && d.state === 'VERIFIED') this.#back();
      else if (this.lost) this.#draw();
    });
    client.addEventListener('stopped', () => {
      this.next = null;
      this.lost = true;
      announce(`Offline: ${client.stopReason}`);
      this.#draw();
    });
    $('reconnect-now').addEventListener('click', () => client.reconnectNow());
  }

  // Messages typed offline change the count.
  refresh() {
    if (this.lost) this.#draw();
  }

  #headline() {
    return this.everConnected ? 'Connection to the relay lost.' : 'Cannot reach the relay.';
  }

  #back() {
    const wasLost = this.lost;
    this.everConnected = true;
    this.lost = false;
    this.next = null;
    clearInterval(this.timer);
    this.timer = null;
    $('banner').hidden = true;
    if (wasLost) announce('Connected to the relay again.');
  }

  #tick() {
    if (!this.timer) this.timer = setInterval(() => this.#draw(), TICK_MS);
    this.#draw();
  }

  #draw() {
    const { client } = this;
    const waiting = this.outbox.queued;
    const queued = waiting ? ` ${waiting} ${waiting === 1 ? 'message waits' : 'messages wait'} to be sent.` : '';
    let text;
    let canRetry = true;
    if (client.stopped) {
      clearInterval(this.timer);
      this.timer = null;
      canRetry = client.stoppedUnreachable;
      text = `Offline: ${client.stopReason}.${queued}`;
    } else if (this.next && this.next.at > Date.now() && !client.ws) {
      const s = Math.ceil((this.next.at - Date.now()) / 1000);
      const max = client.options.reconnect.maxAttempts;
      text = `${this.#headline()} Reconnecting in ${s} s (attempt ${this.next.attempt} of ${max}).${queued}`;
    } else {
      text = `${this.#headline()} Reconnecting now…${queued}`;
    }
    $('banner-text').textContent = text;
    $('reconnect-now').textContent = client.stopped ? 'Try again' : 'Reconnect now';
    $('reconnect-now').hidden = !canRetry;
    $('banner').hidden = false;
  }
}
