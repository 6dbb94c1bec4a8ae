// @ts-check
/**
 * Events and calls: the client of `index.js`, plus `emit`, `on`, `off` and `call`.
 * A separate entry point (`starlette-realtime/events`, `<mount>/client.events.js`,
 * `<mount>/realtime.events.min.js`) so that the core stays small.
 *
 * An event is a message of its own kind on the wire (`e<seq>:<json>`, PROTOCOL.md section 3.1):
 * numbered with the messages, so it arrives once, in order, across reconnections and
 * fallbacks; a raw message never turns into an event however it looks, nor the reverse.
 */
import { Client, OPEN } from "./client.js";

export { CLOSED, CLOSING, CONNECTING, OPEN } from "./client.js";
export { backoff } from "./backoff.js";
export { CLOSE_CODE_EXPLANATIONS, CloseCode } from "./codes.js";
export { RECONNECT_POLICY, policyOf } from "./protocol.js";

/** @typedef {import("./types.js").Options} Options */
/** @typedef {import("./types.js").EventMap} EventMap */
/** @typedef {import("./types.js").TransportName} TransportName */
/** @typedef {(data: any) => any} Handler what `on` takes; for a call, what it returns (or resolves to) is the reply */
/** @typedef {{timeout?: number}} CallOptions `timeout`: ms to wait for the reply (default 10000; Infinity: no limit) */

/** A call that the server answered with an error (`event.fail(message)`), or that timed out. */
export class CallError extends Error {
  /**
   * @param {string} message
   * @param {boolean} [timeout] whether no reply came in time
   */
  constructor(message, timeout = false) {
    super(message);
    this.name = "CallError";
    /** Whether the call got no reply in time (the server may still run it). */
    this.timeout = timeout;
  }
}

/** A client that also speaks in named JSON events, and calls the server and answers its calls. */
export class EventClient extends Client {
  /** @type {Record<string, Handler[]>} */
  #on = {};
  /** @type {Map<number, {ok: (value: any) => void, ko: (error: Error) => void, timer: any}>} */
  #calls = new Map();
  #id = 0;
  #setTimeout;
  #clearTimeout;

  /**
   * @param {string | URL} url the mount URL, absolute or relative to the page: "/realtime"
   * @param {Options} [options]
   */
  constructor(url, options = {}) {
    super(url, options);
    this.#setTimeout = options.setTimeout || ((f, ms) => setTimeout(f, ms));
    this.#clearTimeout = options.clearTimeout || ((id) => clearTimeout(id));
    this.addEventListener("event", (e) => this.#event(JSON.parse(e.data)));
    // A new session (the old one was lost) will not answer the calls of the old one.
    this.addEventListener("reset", () => this.#fail("the session was lost before the reply"));
    this.addEventListener("close", () => this.#fail("the session ended before the reply"));
  }

  /**
   * Send the event `name` with JSON `data` (the server's `session.events()` gets it).
   * @param {string} name
   * @param {any} [data]
   */
  emit(name, data) {
    this.send(JSON.stringify({ n: name, d: data }), "e");
  }

  /**
   * Handle the server's events named `name`; for a call (`session.call`), the first handler
   * answers: what it returns, or what its promise resolves to, is the reply; what it throws,
   * or rejects with, the error the server's `call` raises.
   * @param {string} name
   * @param {Handler} handler
   */
  on(name, handler) {
    (this.#on[name] ||= []).push(handler);
    return this;
  }

  /**
   * Stop handling `name` with `handler`.
   * @param {string} name
   * @param {Handler} handler
   */
  off(name, handler) {
    this.#on[name] = (this.#on[name] || []).filter((h) => h != handler);
    return this;
  }

  /**
   * Call the server: its handler answers with `await event.reply(result)`. Rejects with a
   * `CallError`: the server's error, or (`timeout` set) no reply within `timeout` ms.
   * @param {string} name
   * @param {any} [data]
   * @param {CallOptions} [options]
   * @returns {Promise<any>}
   */
  call(name, data, { timeout = 10000 } = {}) {
    const id = ++this.#id;
    return new Promise((ok, ko) => {
      this.send(JSON.stringify({ n: name, d: data, i: id }), "e");
      const timer =
        timeout < Infinity &&
        this.#setTimeout(() => this.#settle(id, { r: id, e: `call "${name}" got no reply within ${timeout} ms` }, true), timeout);
      this.#calls.set(id, { ok, ko, timer });
    });
  }

  /** @param {any} m an event's body: `{n, d, i?}` or a reply `{r, d}` / `{r, e}` */
  #event(m) {
    if ("r" in m) return this.#settle(m.r, m);
    const handlers = this.#on[m.n] || [];
    if (m.i == null) {
      for (const handler of handlers) {
        try {
          handler(m.d);
        } catch (error) {
          setTimeout(() => {
            throw error;
          });
        }
      }
      return;
    }
    const reply = (/** @type {any} */ fields) => this.readyState <= OPEN && this.send(JSON.stringify({ r: m.i, ...fields }), "e");
    new Promise((ok) => {
      if (!handlers.length) throw new Error(`no handler for "${m.n}"`);
      ok(handlers[0](m.d));
    }).then(
      (d) => reply({ d: d === undefined ? null : d }),
      (error) => reply({ e: `${error?.message || error}` }),
    );
  }

  /**
   * @param {number} id
   * @param {any} m the reply
   * @param {boolean} [timeout]
   */
  #settle(id, m, timeout) {
    const call = this.#calls.get(id);
    if (!call) return; // answered already, or timed out: a late reply is dropped
    this.#calls.delete(id);
    this.#clearTimeout(call.timer);
    if ("e" in m) call.ko(new CallError(m.e, timeout));
    else call.ok(m.d);
  }

  /** @param {string} why */
  #fail(why) {
    for (const id of [...this.#calls.keys()]) this.#settle(id, { e: why });
  }
}

/**
 * Open a session that speaks in events: `const rt = connect("/realtime"); rt.on("chat", (m) => ...);
 * rt.emit("chat", {text: "hi"}); const sum = await rt.call("add", [1, 2], {timeout: 5000})`.
 * @param {string | URL} url the mount URL, absolute or relative to the page
 * @param {Options} [options]
 */
export const connect = (url, options) => new EventClient(url, options);

export { EventClient as Client };
