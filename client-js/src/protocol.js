// @ts-check
/**
 * The wire protocol (PROTOCOL.md): frames, close codes and what a client does after each.
 *
 * Mirrors `realtime/protocol/frames.py`; `tests/browser/test_assets.py` fails when they differ.
 */

/**
 * What a client does after a close: resume the same session, start a new one and tell the
 * application, or stop.
 * @typedef {"resume" | "new" | "stop"} Policy
 */

/** The codes whose policy is not "stop"; 1006 is a connection dropped without a close frame. */
export const RECONNECT_POLICY = /** @type {Readonly<Record<number, Policy>>} */ (
  Object.freeze({
    1006: "resume",
    1012: "resume",
    1013: "resume",
    4001: "resume",
    4008: "resume",
    4000: "new",
    4004: "new",
    4005: "new",
    4009: "new",
  })
);

/**
 * @param {number} code
 * @returns {Policy}
 */
export const policyOf = (code) => RECONNECT_POLICY[code] || "stop";

// -- Frames (PROTOCOL.md, section 3) ---------------------------------------------------
// This module is the only place that spells a frame: one encoder per kind, one decoder per
// kind (in `decode`).

/**
 * A frame, decoded. `k` is the frame's first character; binary data (`b`) decodes as `d`
 * with an ArrayBuffer; an event (`e`) carries its JSON text.
 * @typedef {{k: "h", ack: number, token?: string} | Data
 *   | {k: "a", seq: number}
 *   | {k: "p" | "q"}
 *   | {k: "c" | "r", code: number, reason: string}} Frame
 */

/** @typedef {{k: "d" | "e", seq: number, data: string | ArrayBuffer}} Data a data frame or an event */

/** @param {number} ack */
export const helloFrame = (ack) => `h${JSON.stringify({ ack })}`;
/** @param {number} seq */
export const ackFrame = (seq) => `a${seq}`;
export const pingFrame = () => "p";
export const pongFrame = () => "q";
/** @param {number} code @param {string} reason */
export const closeFrame = (code, reason) => `c${code}:${reason}`;
/** @param {number} code @param {string} reason */
export const reconnectFrame = (code, reason) => `r${code}:${reason}`;

/**
 * Encode a data frame: text as `d<seq>:text` (an event's JSON as `e<seq>:json`, `k` "e");
 * bytes as a raw binary message (`raw`, for WebSocket) or as `b<seq>:<base64>`.
 * @param {number} seq
 * @param {string | Uint8Array<ArrayBuffer>} data
 * @param {boolean} [raw]
 * @param {string} [k] "e" for an event
 * @returns {string | Uint8Array<ArrayBuffer>}
 */
export function dataFrame(seq, data, raw, k = "d") {
  if (typeof data == "string") return `${k}${seq}:${data}`;
  const head = `b${seq}:`;
  if (raw) {
    const frame = new Uint8Array(head.length + data.length);
    frame.set(Uint8Array.from(head, (c) => c.charCodeAt(0)));
    frame.set(data, head.length);
    return frame;
  }
  let binary = "";
  for (let i = 0; i < data.length; i += 32768) {
    binary += String.fromCharCode(...data.subarray(i, i + 32768));
  }
  return head + btoa(binary);
}

/**
 * A sequence number or close code: decimal, without sign or leading zeros, 16 digits at most.
 * @param {string} text
 */
function number(text) {
  if (!/^(0|[1-9]\d{0,15})$/.test(text)) throw new SyntaxError(text);
  return +text;
}

/**
 * Decode a frame: a string, or a binary WebSocket message (`b<seq>:` then raw bytes). A
 * string starting with `"` is a frame that SSE carries JSON-encoded (it holds a `\r`).
 * One decoder per kind below; a kind this version does not know decodes as a pong, which
 * the client ignores.
 * @param {string | ArrayBuffer} raw
 * @returns {Frame} throws on a malformed frame
 */
export function decode(raw) {
  if (typeof raw != "string") {
    const bytes = new Uint8Array(raw);
    const colon = bytes.indexOf(58);
    const seq = number(String.fromCharCode(...bytes.subarray(1, colon < 0 ? 0 : colon)));
    return { k: "d", seq, data: raw.slice(colon + 1) };
  }
  /** @type {string} */
  const frame = raw[0] == '"' ? JSON.parse(raw) : raw;
  const k = frame[0];
  const colon = frame.indexOf(":");
  const head = () => number(frame.slice(1, colon < 0 ? 0 : colon)); // "" without a colon
  const body = frame.slice(colon + 1);
  if (k == "h") {
    const hello = JSON.parse(frame.slice(1)); // its `token`, when set, is the next connections'
    hello.k = k;
    hello.ack = number(`${hello.ack}`);
    return hello;
  }
  if (k == "d" || k == "e") return { k, seq: head(), data: body };
  if (k == "b") return { k: "d", seq: head(), data: Uint8Array.from(atob(body), (c) => c.charCodeAt(0)).buffer };
  if (k == "a") return { k, seq: number(frame.slice(1)) };
  if (k == "c" || k == "r") return { k, code: head(), reason: body };
  return { k: k == "p" ? k : "q" };
}

/**
 * A batch (a POST body or a long-poll answer, section 5.2): a JSON array of frames.
 * @param {string[]} frames
 */
export const batchBody = (frames) => JSON.stringify(frames);

/**
 * The frames of a batch, parsed JSON. Throws `{code: 1002, reason}` if it is not an array
 * of strings.
 * @param {any} body
 * @returns {string[]}
 */
export function batchFrames(body) {
  if (!Array.isArray(body) || body.some((frame) => typeof frame != "string")) {
    throw { code: 1002, reason: "malformed batch" };
  }
  return body;
}

// -- Acknowledgements (section 4) --------------------------------------------------------

/**
 * How many unacknowledged messages a receiver lets pile up before it acks at once: a quarter
 * of the sender's window (`max_queue`, 1024 when the server sets none), at least 1.
 * @param {number | null | undefined} maxQueue
 */
export const ackBatch = (maxQueue) => Math.max(1, Math.floor((maxQueue || 1024) / 4));

// -- Negotiation (section 2) -------------------------------------------------------------

/**
 * The body of `POST <mount>/negotiate`: `{"v":1}`, with the transports the client can use
 * when it names them.
 * @param {string[]} [transports]
 */
export const negotiation = (transports) => JSON.stringify({ v: 1, transports });

/**
 * A negotiation answer, checked: the client needs `sid`, `transports` and `poll_timeout_ms`
 * (and `token`, without which the server refuses every request with 4003); it ignores the
 * fields it does not know (section 2). Throws `{code: 1002, reason}` when a needed one is
 * missing or of the wrong type.
 * @param {any} body the answer, parsed JSON
 * @returns {import("./types.js").Negotiated}
 */
export function negotiated(body) {
  if (typeof body?.sid != "string" || !Array.isArray(body.transports) || typeof body.poll_timeout_ms != "number") {
    throw { code: 1002, reason: "malformed negotiation answer" };
  }
  return body;
}

// -- Transport requests (section 5) ------------------------------------------------------

/**
 * The value of `fb`, which tells the server why the client comes from another transport.
 * @param {string} transport the one that failed
 * @param {"open" | "hello" | "died"} why
 */
export const fallback = (transport, why) => `${transport}:${why}`;

/**
 * The URL of a transport request: `<mount>/<path>?sid=...` then each other parameter that
 * is not "", in the order given. Values go verbatim: they are URL-safe (base64url ids and
 * tokens, numbers, `fb`'s `<transport>:<reason>`).
 * @param {string} mount the mount URL, absolute, without a trailing slash
 * @param {string} path "websocket", "sse" or "longpoll"
 * @param {Record<string, string | number>} params
 */
export const transportURL = (mount, path, params) =>
  `${mount}/${path}?${Object.keys(params)
    .filter((key) => params[key] !== "")
    .map((key) => `${key}=${params[key]}`)
    .join("&")}`;
