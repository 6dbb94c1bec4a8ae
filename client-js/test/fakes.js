// Fakes of everything the client takes from its environment: a clock with timers, WebSocket,
// EventSource, fetch and localStorage. A test plays the server through them.

/** Let pending promise callbacks run. */
export async function flush() {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
}

export const NEGOTIATED = {
  v: 1,
  sid: "SID",
  token: "TOKEN",
  transports: ["websocket", "sse", "longpoll"],
  ping_interval_ms: 20000,
  ping_timeout_ms: 20000,
  poll_timeout_ms: 20000,
  session_ttl_ms: 30000,
  max_message_size: 1048576,
  max_queue: 1024,
  max_buffer_bytes: 8388608,
  max_batch: 256,
  ticket: "TICKET",
};

/**
 * @param {object} [options]
 * @param {object} [options.negotiated] fields that replace those of NEGOTIATED
 * @param {boolean} [options.autoNegotiate] answer negotiation requests at once (default true)
 */
export function fakeEnv({ negotiated = {}, autoNegotiate = true } = {}) {
  let lastId = 0;
  const env = {
    time: 0,
    timers: [],
    sockets: [],
    sources: [],
    requests: [],
    negotiations: 0,
    store: new Map(),
    random: () => 0.5,
    now: () => env.time,
    setTimeout(fn, ms) {
      env.timers.push({ id: ++lastId, at: env.time + ms, fn });
      return lastId;
    },
    clearTimeout(id) {
      env.timers = env.timers.filter((t) => t.id !== id);
    },
    /** Move the clock forward, firing the timers that fall due, in order. */
    async advance(ms) {
      const end = env.time + ms;
      for (;;) {
        await flush();
        const due = env.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
        if (!due) break;
        env.timers = env.timers.filter((t) => t !== due);
        env.time = due.at;
        due.fn();
      }
      env.time = end;
      await flush();
    },
    storage: {
      getItem: (key) => env.store.get(key) ?? null,
      setItem: (key, value) => env.store.set(key, String(value)),
    },
    WebSocket: class FakeWebSocket {
      constructor(url, protocols) {
        this.url = url;
        this.protocols = protocols;
        this.sent = [];
        this.closed = false;
        env.sockets.push(this);
      }
      send(data) {
        this.sent.push(typeof data == "string" ? data : new Uint8Array(data));
      }
      close() {
        this.closed = true;
      }
      // -- the server's side --
      receive(data) {
        this.onmessage({ data });
      }
      drop(code = 1006, reason = "") {
        this.onclose({ code, reason });
      }
    },
    EventSource: class FakeEventSource {
      constructor(url) {
        this.url = url;
        this.closed = false;
        env.sources.push(this);
      }
      close() {
        this.closed = true;
      }
      receive(data) {
        this.onmessage({ data });
      }
      fail() {
        this.onerror({});
      }
    },
    /** Requests wait in env.requests until the test answers them. */
    fetch(url, init = {}) {
      return new Promise((resolve, reject) => {
        const request = {
          url: String(url),
          method: init.method || "GET",
          headers: init.headers || {},
          body: init.body ? JSON.parse(init.body) : undefined,
          keepalive: init.keepalive,
          aborted: false,
          answer(status, body) {
            env.requests = env.requests.filter((r) => r !== request);
            resolve({ status, ok: status > 199 && status < 300, json: async () => body });
          },
          fail() {
            env.requests = env.requests.filter((r) => r !== request);
            reject(new TypeError("Failed to fetch"));
          },
        };
        init.signal?.addEventListener("abort", () => {
          request.aborted = true;
          env.requests = env.requests.filter((r) => r !== request);
          reject(new DOMException("aborted", "AbortError"));
        });
        if (request.url.endsWith("/negotiate")) env.negotiations++;
        if (request.url.includes("/ticket?")) {
          env.tickets = (env.tickets || 0) + 1;
          resolve({ status: 200, json: async () => ({ ticket: `TICKET${env.tickets}` }) });
          return;
        }
        if (request.url.endsWith("/negotiate") && autoNegotiate) {
          resolve({ status: 200, json: async () => ({ ...NEGOTIATED, sid: `SID${env.negotiations}`, ...negotiated }) });
        } else {
          env.requests.push(request);
        }
      });
    },
    /** The pending request whose URL contains `part` (and method, if given). */
    request(part, method) {
      return env.requests.find((r) => r.url.includes(part) && (!method || r.method === method));
    },
  };
  return env;
}

/** Record every event a client emits, as [type, fields]. */
export function record(client) {
  const log = [];
  for (const type of ["open", "message", "close", "error", "reconnecting", "reconnect", "reset", "transportchange", "fallback"]) {
    client.addEventListener(type, ({ type: _, target, ...fields }) => log.push([type, fields]));
  }
  return log;
}

export const text = (bytes) => new TextDecoder().decode(bytes);
