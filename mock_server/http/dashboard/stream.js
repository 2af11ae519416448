// The multiplexed event stream (GET /api/events, every job of the caller, new ones
// included), opened by `new EventSource(ticketUrl)`: an EventSource cannot send the
// Authorization header, so the page asks for a short-lived ticket first.
//
// While the ticket lives the browser heals a cut stream by itself, resuming with
// Last-Event-ID. Once it errors out for good (a ticket past its 60 s is refused, so
// EventSource closes), a fresh ticket opens a new stream; a new EventSource cannot
// send Last-Event-ID, so `onReopen` re-reads the list once each new stream is open
// (the list and the stream's opening snapshots cover what happened before it).

import { ApiError, json } from "./api.js";

const EVENTS = ["status", "progress", "complete"];

export class Live {
  constructor({ onEvent, onReopen, onState }) {
    this.onEvent = onEvent;
    this.onReopen = onReopen;
    this.onState = onState;
    this.source = null;
    this.failures = 0;
    this.timer = null;
    this.stopped = true;
    this.run = 0;
  }

  async start() {
    this.stopped = false;
    this.run += 1;
    await this.open();
  }

  stop() {
    this.stopped = true;
    this.run += 1; // a ticket still being asked for is dropped
    clearTimeout(this.timer);
    if (this.source) this.source.close();
    this.source = null;
  }

  async open() {
    if (this.stopped) return;
    const run = this.run;
    this.onState("connecting…");
    let ticket;
    try {
      ticket = await json("/api/events-ticket", { method: "POST" });
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return; // signed out
      if (run === this.run) this.retryLater();
      return;
    }
    if (this.stopped || run !== this.run) return;
    const source = new EventSource(ticket.url);
    this.source = source;
    let synced = false;
    source.onopen = () => {
      if (this.source !== source) return;
      this.failures = 0;
      this.onState("live");
      if (!synced) {
        synced = true; // a new stream: re-read the list for what happened before it
        this.onReopen();
      }
    };
    for (const name of EVENTS) {
      source.addEventListener(name, (event) => {
        if (this.source !== source) return;
        let data;
        try {
          data = JSON.parse(event.data);
        } catch {
          return;
        }
        if (data && typeof data.jobId === "string") this.onEvent(name, data);
      });
    }
    source.onerror = () => {
      if (this.source !== source) return;
      if (source.readyState === EventSource.CLOSED) {
        // for good (a refused ticket, a 5xx): a fresh ticket, after a pause
        this.source = null;
        this.retryLater();
      } else {
        this.onState("reconnecting…"); // the browser retries with Last-Event-ID
      }
    };
  }

  retryLater() {
    if (this.stopped) return;
    this.failures += 1;
    const delay = Math.min(30000, 500 * 2 ** Math.min(this.failures - 1, 6));
    this.onState("offline, retrying…");
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.open(), delay);
  }
}
