// @ts-check
/**
 * The client's state machine: negotiate, open the first transport that delivers data, keep
 * the session's numbered messages both ways, and resume (or restart and say so) when a
 * connection is lost. See PROTOCOL.md for the wire side.
 */
import { backoff } from "./backoff.js";
import { Emitter } from "./emitter.js";
import { blobBytes, defaultFetch, g } from "./platform.js";
import * as wire from "./protocol.js"; // every frame, body and URL is spelled there
import { longpoll } from "./transports/longpoll.js";
import { sse } from "./transports/sse.js";
import { request } from "./transports/upstream.js";
import { websocket } from "./transports/websocket.js";

/** @typedef {import("./types.js").Bytes} Bytes */
/** @typedef {import("./types.js").Env} Env */
/** @typedef {import("./types.js").EventMap} EventMap */
/** @typedef {import("./types.js").Negotiated} Negotiated */
/** @typedef {import("./types.js").Options} Options */
/** @typedef {import("./types.js").Settings} Settings */
/** @typedef {import("./types.js").Transport} Transport */
/** @typedef {import("./types.js").TransportFactory} TransportFactory */
/** @typedef {import("./types.js").TransportName} TransportName */

/**
 * @typedef {object} Conn one connection attempt, open or not (`since`, `seen`, `cursor`: once open)
 * @property {TransportName} name
 * @property {Transport} [t]
 * @property {boolean} [open]
 * @property {boolean} [dead]
 * @property {number} since when the hello arrived
 * @property {number} seen when the last frame arrived
 * @property {boolean} [used] whether a frame came after the hello
 * @property {number} cursor last outgoing message written on this connection
 * @property {number} acked last ack sent on this connection (`last` counts as one)
 * @property {boolean} [closeSent]
 * @property {any} [timer] open timeout, then heartbeat watchdog
 * @property {any} [ackTimer]
 * @property {number} [ackLast] when the last message to acknowledge came
 * @property {Conn[]} [rivals] the attempts closed when this one won the race
 * @property {Promise<void>} done settles when it opens or dies
 * @property {() => void} go settles `done`
 */

/** @type {Record<TransportName, TransportFactory>} */
const TRANSPORTS = { websocket, sse, longpoll };
/** ms an ack may wait to be coalesced; long-polls carry theirs in `last`, so none there. */
const ACK_DELAY = /** @type {Record<string, number>} */ ({ websocket: 50, sse: 250 });
/** While messages keep coming, an ack waits for more, up to this long after the first. */
const ACK_MAX_DELAY = 1000;
export const CONNECTING = 0;
export const OPEN = 1;
export const CLOSING = 2;
export const CLOSED = 3;
const utf8 = new TextEncoder();

/** Where localStorage is unavailable, transports are remembered for this page only. */
const memory = new Map();
/** ms a transport that worked is tried first, in every tab of the origin. */
const REMEMBERED_MS = 3600000;

/**
 * Read (or write) the transport that worked last on this origin, within the last hour.
 * @param {Settings & Env} o
 * @param {string} key
 * @param {string} [value]
 */
function remember(o, key, value) {
  let kept;
  try {
    const storage = "storage" in o ? o.storage : g.localStorage;
    value ? storage.setItem(key, (value = `${value} ${o.now()}`)) : (kept = storage.getItem(key));
  } catch {
    value ? memory.set(key, value) : (kept = memory.get(key));
  }
  const [name, at] = `${kept}`.split(" ");
  return o.now() - +at < REMEMBERED_MS ? name : null;
}

/** @extends {Emitter<EventMap>} */
export class Client extends Emitter {
  /** @type {Settings & Env} */
  #o;
  #query = ""; // the mount URL's query string: it goes with the negotiation
  /** @type {Negotiated | null | undefined} the session, once negotiated */
  #n;
  #wait = 0; // the open timeout in force (set by each negotiation)
  #race = 0; // ms without a hello before the next transport is tried beside the first
  /** @type {TransportName[]} transports to use, best first */
  #order = [];
  /** @type {TransportName[]} transports left to try in this attempt */
  #pass = [];
  /** @type {{seq: number, data: string | Bytes | null, size: number, t?: string}[]} sent, not acknowledged (`t`: "e" for an event) */
  #out = [];
  #seq = 0; // last message sent
  #in = 0; // last message received, and read: the application reads it as it is dispatched
  #attempt = 0; // attempts since a connection last worked
  #probeDelay = 0; // before the next try of WebSocket in the background
  #fb = ""; // why the last attempt failed ("<transport>:<reason>"), told to the server with the next one
  /** @type {string | undefined} the close frame, to send after the data */
  #closing;
  /** @type {Conn | null | undefined} the open connection */
  #conn;
  /** @type {Conn[]} attempts to open one, racing, the oldest first */
  #tries = [];
  /** @type {Conn | null | undefined} a WebSocket tried while another transport carries the session */
  #probe;
  /** @type {any} */ #timer;
  /** @type {any} */ #probeTimer;
  /** @type {any} */ #closeTimer;
  #left = false; // the session was ended on pagehide: a new one starts if the page comes back
  /** @param {any} e a pagehide or pageshow event */
  #page = (e) => (e.type == "pagehide" ? this.#hide() : e.persisted && this.#show());

  /**
   * @param {string | URL} url the mount URL, absolute or relative to the page: "/realtime"
   * @param {Options} [options]
   */
  constructor(url, options = {}) {
    super();
    /** The mount URL, absolute. */
    const u = new URL(url, g.location?.href);
    this.#query = u.search;
    u.search = u.hash = "";
    this.url = u.href.replace(/\/+$/, "");
    /** 0 connecting, 1 open, 2 closing, 3 closed (as WebSocket's). */
    this.readyState = CONNECTING;
    /** @type {TransportName | null} the transport in use (the last that worked, while reconnecting) */
    this.transport = null;
    this.binaryType = options.binaryType || "arraybuffer";
    /** @type {((this: Client, event: EventMap["open"]) => void) | null} */
    this.onopen = null;
    /** @type {((this: Client, event: EventMap["message"]) => void) | null} */
    this.onmessage = null;
    /** @type {((this: Client, event: EventMap["close"]) => void) | null} */
    this.onclose = null;
    /** @type {((this: Client, event: EventMap["error"]) => void) | null} */
    this.onerror = null;
    this.#o = {
      openTimeout: 5000,
      closeTimeout: 5000,
      reconnectDelay: 500,
      reconnectDelayMax: 30000,
      maxRetries: Infinity,
      upgradeAfter: 10000,
      raceAfter: 750,
      WebSocket: g.WebSocket,
      EventSource: g.EventSource,
      fetch: defaultFetch(),
      setTimeout: setTimeout.bind(g), // bound: called as a method of this object
      clearTimeout: clearTimeout.bind(g),
      now: Date.now,
      random: Math.random,
      ...options,
    };
    this.#probeDelay = this.#o.upgradeAfter;
    for (const type of ["pagehide", "pageshow"]) g.addEventListener?.(type, this.#page);
    this.#connect();
  }

  /**
   * Send a message: text, or binary as an ArrayBuffer, a typed array, a DataView or a Blob.
   * It is queued while no connection is open and delivered once, in order, after a resume.
   * @param {string | ArrayBuffer | ArrayBufferView | Blob} data
   * @param {string} [k] internal: "e" sends `data` as an event's JSON (events.js)
   */
  send(data, k) {
    if (this.readyState > OPEN) throw new Error("realtime: closed");
    const blob = data instanceof Blob;
    /** @type {string | Bytes | null} null: a Blob's bytes, not read yet */
    let copy = null;
    if (ArrayBuffer.isView(data) || data instanceof ArrayBuffer) {
      // A copy of the bytes: a view's, or a buffer's (which has no `buffer` and no `byteOffset`)
      const view = /** @type {any} */ (data);
      copy = new Uint8Array(view.buffer || data, view.byteOffset, data.byteLength).slice();
    } else if (!blob) copy = String(data);
    const size = blob ? data.size : (typeof copy == "string" ? utf8.encode(copy) : /** @type {Bytes} */ (copy)).length;
    const max = this.#n?.max_message_size;
    if (max && size > max) throw new RangeError(`realtime: ${size} bytes > max_message_size ${max}`);
    const entry = { seq: ++this.#seq, data: copy, size, t: k };
    if (blob) {
      // Its bytes come asynchronously; the messages after it wait for them.
      blobBytes(data).then((bytes) => {
        entry.data = new Uint8Array(bytes);
        this.#flush();
      });
    }
    this.#out.push(entry);
    this.#flush();
  }

  /**
   * End the session once every message sent so far is delivered; waits up to `closeTimeout`
   * for the server to confirm, then the close event fires.
   * @param {number} [code] 1000, or 3000-4999
   * @param {string} [reason]
   */
  close(code = 1000, reason = "") {
    if (code != 1000 && !(code >= 3000 && code <= 4999)) throw new RangeError(`realtime: invalid close code ${code}`);
    if (this.readyState > OPEN) return;
    if (!this.#n) return this.#finish(code, reason, true);
    this.readyState = CLOSING;
    this.#closing = wire.closeFrame(code, reason);
    this.#closeTimer = this.#o.setTimeout(() => this.#finish(code, reason, false), this.#o.closeTimeout);
    if (this.#conn) this.#flush();
    else this.#beacon(this.#closing)?.then((r) => r.ok && this.#finish(code, reason, true));
  }

  /**
   * POST the messages not acknowledged yet (the server drops those it has) and `bye`, a
   * close frame, by a request that outlives the page (fetch's keepalive, whose body is
   * limited to 64 KiB: past it the close goes alone).
   * @param {string} bye
   */
  #beacon(bye) {
    const n = /** @type {Negotiated} */ (this.#n);
    const path = n.transports.find((t) => t != "websocket"); // both others take POSTs
    if (!path || !this.#o.fetch) return;
    const frames = this.#out.filter((m) => m.data != null).map((m) => /** @type {string} */ (wire.dataFrame(m.seq, /** @type {any} */ (m.data), false)));
    let body = wire.batchBody([...frames, bye]);
    if (utf8.encode(body).length > 65000) body = wire.batchBody([bye]);
    const init = { method: "POST", keepalive: true, headers: { "Content-Type": "application/json", "X-Realtime-Token": n.token }, body };
    return this.#o.fetch(wire.transportURL(this.url, path, { sid: n.sid }), init).catch(() => ({ ok: false }));
  }

  /** The page is going away (or into the back-forward cache): end the session now. */
  #hide() {
    const c = this.#conn;
    if (this.readyState > OPEN || !this.#n) return;
    const bye = wire.closeFrame(1001, "pagehide");
    if (c?.name == "websocket") {
      this.#flush();
      c.t?.send(bye);
    } else this.#beacon(bye);
    this.#stop();
    this.readyState = CONNECTING;
    this.#left = true;
  }

  /** The page came back from the back-forward cache: open a new session, and say so. */
  #show() {
    if (this.#left) this.#reset(1001, "pagehide");
    this.#left = false;
  }

  // -- Opening ---------------------------------------------------------------------------

  /** Negotiate a session if there is none, then try the transports in order. */
  async #connect() {
    const o = this.#o;
    if (!this.#n) {
      const start = o.now();
      try {
        const init = {
          method: "POST",
          headers: { ...o.headers, "Content-Type": "application/json" },
          body: wire.negotiation(o.transports),
        };
        this.#n = wire.negotiated(await request(o, `${this.url}/negotiate${this.#query}`, init, o.openTimeout));
      } catch (/** @type {any} */ e) {
        if (this.readyState == CLOSED) return;
        // A refusal (4xx) is final unless its code says to come back (1013: too many
        // sessions, try again later); so is a client that cannot work here (a missing API,
        // a malformed answer: no status, no code 1006). A server or network failure is retried.
        const final = e.status ? e.status < 500 && e.status > 399 && wire.policyOf(e.code) != "resume" : e.code != 1006;
        return final ? this.#finish(e.code || 1006, e.reason || `${e}`, false) : this.#retry(e.code, e.reason);
      }
      if (this.readyState == CLOSED) return;
      const rtt = o.now() - start;
      this.#wait = Math.max(o.openTimeout, 4 * rtt);
      this.#race = Math.min(this.#wait, Math.max(o.raceAfter, 4 * rtt));
      const offered = this.#n.transports;
      const usable = (o.transports || offered).filter((t) => TRANSPORTS[t]?.supported(o));
      this.#order = usable.filter((t) => offered.indexOf(t) >= 0);
      const none = `no transport in common: server [${offered}], client [${usable}]`;
      if (!this.#order.length) return this.#finish(1006, none, false);
      const last = /** @type {TransportName} */ (remember(o, `realtime:${this.url}`));
      if (this.#order.indexOf(last) >= 0) this.#prefer(last);
    }
    this.#pass = [...this.#order];
    this.#next(1006, "");
  }

  /**
   * Try the next transport of this attempt beside those under way, or, when none is left
   * nor under way, wait and start another attempt.
   * @param {number} code @param {string} reason why the previous one failed
   */
  #next(code, reason) {
    const name = this.#pass.shift();
    if (name) this.#tries.push(this.#open(name));
    else if (!this.#tries.length) this.#retry(code, reason);
  }

  /** @param {TransportName} name */
  #open(name) {
    const o = this.#o;
    const n = /** @type {Negotiated} */ (this.#n);
    const c = /** @type {Conn} */ ({ name, acked: this.#in });
    c.done = new Promise((r) => (c.go = r));
    c.timer = o.setTimeout(() => this.#end(c, 1006, `no hello in ${this.#wait} ms`), this.#wait);
    // Still no hello (a proxy may hold a stream back): race the next transport, as Happy
    // Eyeballs races addresses; the first hello wins. Never sooner than 4 round trips.
    o.setTimeout(() => c.open || c.dead || this.#tries[this.#tries.length - 1] != c || this.#next(1006, ""), this.#race);
    try {
      c.t = TRANSPORTS[name]({
        ...o,
        url: this.url,
        sid: n.sid,
        token: n.token,
        last: () => this.#in,
        held: () => this.#probe?.done,
        timeout: n.poll_timeout_ms + this.#wait,
        maxBatch: n.max_batch || 256,
        fb: this.#fb,
        onframe: (raw) => this.#frame(c, raw),
        onclose: (code, reason) => this.#end(c, code, reason),
      });
    } catch (e) {
      o.setTimeout(() => this.#end(c, 1006, `${e}`), 0);
    }
    return c;
  }

  /**
   * A connection delivered its hello: it carries the session from now on.
   * @param {Conn} c
   * @param {{ack: number, token?: string}} hello `ack`: the last of our messages the server's
   *   application read; `token`: the token of our next connections (rotation)
   */
  #opened(c, { ack, token }) {
    const o = this.#o;
    if (token) /** @type {Negotiated} */ (this.#n).token = token;
    const from = this.transport;
    if (this.#conn) this.#kill(this.#conn); // an upgrade: the server moved the session already
    // The race is over: the others are closed, and those started before the winner lost it.
    // Any of them may have reached the server after the winner, and taken the session there.
    const i = this.#tries.indexOf(c);
    c.rivals = this.#tries.filter((t, j) => {
      if (t != c) this.#kill(t);
      if (j < i) this._emit("fallback", { transport: t.name, reason: `no hello before ${c.name}'s` });
      return t != c;
    });
    this.#tries = [];
    o.clearTimeout(c.timer);
    c.go();
    c.open = true;
    c.since = o.now();
    c.cursor = ack;
    this.#conn = c;
    this.#probe = null;
    this.transport = c.name;
    this.#fb = "";
    this.#prefer(c.name);
    remember(o, `realtime:${this.url}`, c.name);
    this.#trim(ack);
    this.#watch(c);
    if (this.readyState == CONNECTING) {
      this.readyState = OPEN;
      this._emit(from ? "reconnect" : "open", {}); // a transport has carried the session before
    }
    if (from && from != c.name) this._emit("transportchange", { from, to: c.name });
    this.#flush();
    this.#scheduleProbe();
    this.#ackSoon(c); // what came before it opened (an upgrade's: on the old connection)
  }

  /** @param {TransportName} name */
  #prefer(name) {
    this.#order = [name, ...this.#order.filter((t) => t != name)];
  }

  /**
   * Try WebSocket again, later, while a fallback carries the session: if it delivers its
   * hello the server has moved the session to it (the old connection gets 4002), and
   * sequence numbers make the switch lose and double nothing.
   */
  #scheduleProbe() {
    const o = this.#o;
    o.clearTimeout(this.#probeTimer);
    // Not when WebSocket is unusable (-1), nor when it is first: then it carries the session
    // (#opened puts the transport in use first).
    if (this.#order.indexOf("websocket") < 1 || !(this.#probeDelay < Infinity)) return;
    this.#probeTimer = o.setTimeout(() => {
      // No probe is under way: this timer is only set while there is none.
      if (this.#conn && !this.#closing) this.#probe = this.#open("websocket");
    }, this.#probeDelay);
  }

  // -- Receiving -------------------------------------------------------------------------

  /**
   * @param {Conn} c
   * @param {string | ArrayBuffer} raw
   */
  #frame(c, raw) {
    if (c.dead) return;
    c.seen = this.#o.now();
    /** @type {wire.Frame} */
    let f;
    try {
      f = wire.decode(raw);
    } catch {
      return this.#end(c, 1002, "malformed frame");
    }
    if (f.k == "c" || f.k == "r") return this.#end(c, f.code, f.reason, f.k == "c");
    if (!c.open) return f.k == "h" ? this.#opened(c, f) : this.#end(c, 1002, "no hello");
    c.used = true;
    if (f.k == "a") {
      this.#trim(f.seq);
      this.#flush();
    } else if (f.k == "p") {
      c.t?.send(wire.pongFrame());
    } else if (/** @type {any} */ (f).seq > this.#in) {
      f = /** @type {wire.Data} */ (f); // the frames left with a number: data and events
      if (f.seq != ++this.#in) return this.#end(c, 1002, `message ${f.seq} after ${this.#in - 1}`);
      const data = this.binaryType == "blob" && typeof f.data != "string" ? new Blob([f.data]) : f.data;
      this._emit(f.k == "e" ? "event" : "message", { data });
      this.#ackSoon(c);
    }
  }

  /**
   * Acknowledge what the application read: at once after a quarter of the window, else
   * a short delay after the last message (a stream is acked by count, not by the clock),
   * but at most ACK_MAX_DELAY after the first.
   * @param {Conn} c
   */
  #ackSoon(c) {
    const o = this.#o;
    const delay = ACK_DELAY[c.name];
    if (c.dead || delay == null) return;
    if (this.#in - c.acked >= wire.ackBatch(/** @type {Negotiated} */ (this.#n).max_queue)) return this.#ack(c);
    const first = (c.ackLast = o.now()); // the first since the last ack, when this arms the timer
    const due = () => {
      const wait = Math.min(/** @type {number} */ (c.ackLast) + delay, first + ACK_MAX_DELAY) - o.now();
      wait > 0 ? (c.ackTimer = o.setTimeout(due, wait)) : this.#ack(c);
    };
    c.ackTimer ||= o.setTimeout(due, delay);
  }

  /**
   * While an upgrade's WebSocket opens, ack no further than the `last` its URL carries (its
   * `acked`, #in when it started): the server drops what we ack, and would find that resume
   * point gone (4004).
   * @param {Conn} c a live one (#kill clears the timer that calls this)
   */
  #ack(c) {
    const seq = this.#probe?.acked ?? this.#in;
    this.#o.clearTimeout(c.ackTimer);
    c.ackTimer = null;
    if (seq > c.acked) c.t?.send(wire.ackFrame((c.acked = seq)));
  }

  /**
   * A connection that brings nothing for `ping_interval + ping_timeout` is dead (the server
   * pings on WebSocket and SSE; each long-poll has its own deadline instead).
   * @param {Conn} c
   */
  #watch(c) {
    const o = this.#o;
    const { ping_interval_ms: interval, ping_timeout_ms: timeout } = /** @type {Negotiated} */ (this.#n);
    if (!(c.name in ACK_DELAY) || interval == null || timeout == null) return;
    const check = () => {
      const idle = o.now() - c.seen;
      if (idle >= interval + timeout) this.#end(c, 4001, "the server went silent");
      else c.timer = o.setTimeout(check, interval + timeout - idle);
    };
    c.timer = o.setTimeout(check, interval + timeout);
  }

  // -- Sending ---------------------------------------------------------------------------

  /** The server acknowledged our messages up to `seq`: forget them. @param {number} seq */
  #trim(seq) {
    const out = this.#out;
    if (out.length && seq >= out[0].seq) out.splice(0, seq - out[0].seq + 1);
  }

  /** Write what the open connection has not carried yet, within the window, then the close. */
  #flush() {
    const c = this.#conn;
    const n = /** @type {Negotiated} */ (this.#n);
    if (!c?.t) return;
    let count = 0;
    let bytes = 0;
    for (const { seq, data, size, t: k } of this.#out) {
      bytes += size;
      if (seq > c.cursor) {
        if (data == null || count >= (n.max_queue || Infinity) || (count && bytes > (n.max_buffer_bytes || Infinity))) return;
        c.t.send(wire.dataFrame(seq, data, c.t.binary, k));
        c.cursor = seq;
      }
      count++;
    }
    if (this.#closing && !c.closeSent && c.cursor == this.#seq) {
      c.closeSent = true;
      c.t.send(this.#closing);
    }
  }

  // -- Ending ----------------------------------------------------------------------------

  /**
   * A connection (or an attempt to open one) ended with `code`; `over` if by a close frame,
   * which ends the session itself. Decide by the code's policy what comes next.
   * @param {Conn} c
   * @param {number} code
   * @param {string} reason
   * @param {boolean} [over]
   */
  #end(c, code, reason, over = false) {
    if (c.dead) return;
    this.#kill(c);
    let policy = wire.policyOf(code);
    if (over && policy == "resume") policy = "new"; // a closed session cannot be resumed
    if (this.#closing && policy == "new") policy = "stop";
    if (c == this.#conn) {
      this.#conn = null;
      // Our probe or a racing attempt took over: wait for its hello.
      if (code == 4002 && (this.#probe || this.#tries.length)) return;
      // A rival of the race that opened it did, server-side, before it carried anything (a
      // proxy held the stream back until the server ended it): that rival goes on instead.
      const rival = code == 4002 && !c.used && c.rivals?.pop();
      if (rival) {
        this._emit("fallback", { transport: c.name, reason });
        return this.#tries.push(this.#open(rival.name));
      }
      // One that carried nothing and died at once counts as failed: try another first.
      if (c.used || this.#o.now() - c.since >= this.#wait) this.#attempt = 0;
      else if (policy == "resume" && code != 4002) this.#demote(c.name, "died");
    } else if (policy == "resume") {
      this.#fb = wire.fallback(c.name, reason.startsWith("no hello") ? "hello" : "open");
      this._emit("fallback", { transport: c.name, reason });
      if (c != this.#probe) {
        const i = this.#tries.indexOf(c);
        this.#tries.splice(i, 1);
        // The newest attempt failed: go on to the next; an older one: the next runs already.
        return i == this.#tries.length ? this.#next(code, reason) : undefined;
      }
      this.#probe = null;
      this.#demote(c.name);
      if (this.#conn) this.#ackSoon(this.#conn); // what it held back while the probe opened
      return this.#conn ? this.#scheduleProbe() : this.#retry(code, reason);
    }
    this.#stop();
    if (policy == "resume") this.#retry(code, reason);
    else if (policy == "new") this.#reset(code, reason);
    else this.#finish(code, reason, over);
  }

  /** @param {TransportName} name @param {"died"} [why] told to the server next time */
  #demote(name, why) {
    if (why) this.#fb = wire.fallback(name, why);
    this.#order = [...this.#order.filter((t) => t != name), name];
    if (name == "websocket") this.#probeDelay *= 2;
  }

  /** End every connection and attempt. */
  #stop() {
    for (const c of [this.#conn, ...this.#tries, this.#probe]) if (c) this.#kill(c);
    for (const timer of [this.#timer, this.#probeTimer]) this.#o.clearTimeout(timer);
    this.#conn = this.#probe = null;
    this.#tries = [];
  }

  /** @param {Conn} c */
  #kill(c) {
    c.go();
    c.dead = true;
    c.t?.close();
    this.#o.clearTimeout(c.timer);
    this.#o.clearTimeout(c.ackTimer);
  }

  /** @param {number} code @param {string} reason */
  #retry(code, reason) {
    const o = this.#o;
    const attempt = this.#attempt++;
    if (attempt >= o.maxRetries) return this.#finish(code, reason, false);
    const delay = backoff(attempt, o.reconnectDelay, o.reconnectDelayMax, o.random);
    this.#timer = o.setTimeout(() => this.#connect(), delay);
    if (this.readyState == OPEN) this.readyState = CONNECTING;
    this._emit("reconnecting", { code, reason, attempt: attempt + 1, delay });
  }

  /**
   * The session was lost beyond resume: start a new one, and say so.
   * @param {number} code @param {string} reason
   */
  #reset(code, reason) {
    this.#n = null;
    this.#out = [];
    this.#seq = this.#in = 0;
    this._emit("reset", { code, reason });
    if (this.readyState < CLOSING) this.#retry(code, reason);
  }

  /** @param {number} code @param {string} reason @param {boolean} clean */
  #finish(code, reason, clean) {
    if (this.readyState == CLOSED) return;
    this.readyState = CLOSED;
    this.#stop();
    this.#o.clearTimeout(this.#closeTimer);
    for (const type of ["pagehide", "pageshow"]) g.removeEventListener?.(type, this.#page);
    if (!clean) this._emit("error", { code, reason });
    this._emit("close", { code, reason, wasClean: clean });
  }
}

/**
 * Open a session: `const rt = connect("/realtime"); rt.onmessage = (e) => ...; rt.send("hi")`.
 * @param {string | URL} url the mount URL, absolute or relative to the page
 * @param {Options} [options]
 */
export const connect = (url, options) => new Client(url, options);
