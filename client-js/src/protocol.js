// @ts-check
/**
 * The wire protocol (PROTOCOL.md): frames, close codes and what a client does after each.
 *
 * Mirrors `realtime/protocol/frames.py`; `tests/browser/test_assets.py` fails when they differ.
 */

/** Close codes, the same numbers on every transport (PROTOCOL.md, section 7). */
export const CloseCode = Object.freeze({
  NORMAL_CLOSURE: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  INVALID_DATA: 1007,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  SERVICE_RESTART: 1012,
  TRY_AGAIN_LATER: 1013,
  SESSION_EXPIRED: 4000,
  PING_TIMEOUT: 4001,
  TRANSPORT_REPLACED: 4002,
  FORBIDDEN: 4003,
  REPLAY_GAP: 4004,
  BUFFER_OVERFLOW: 4005,
  RATE_LIMITED: 4006,
  UNAUTHORIZED: 4007,
  BACKEND_UNAVAILABLE: 4008,
  HANDLER_LOST: 4009,
});

/** What each code means, in a few words (the reason a close frame carries says more). */
export const CLOSE_CODE_EXPLANATIONS = /** @type {Readonly<Record<number, string>>} */ (
  Object.freeze({
    1000: "normal closure",
    1001: "going away",
    1002: "protocol error",
    1003: "unsupported data",
    1007: "invalid data",
    1008: "policy violation",
    1009: "message too big",
    1011: "internal error",
    1012: "service restart: reconnect and resume",
    1013: "try again later",
    4000: "unknown or expired session",
    4001: "heartbeat timeout: reconnect and resume",
    4002: "a newer connection took over the session",
    4003: "wrong token for this session",
    4004: "missed messages can no longer be replayed",
    4005: "too many unacknowledged messages (slow consumer)",
    4006: "message rate limit exceeded",
    4007: "authentication refused",
    4008: "backend unavailable: reconnect and resume",
    4009: "the session's handler was lost",
  })
);

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

/**
 * A frame from the server, decoded. `k` is the frame's first character.
 * @typedef {{k: "h", ack: number}
 *   | {k: "d", seq: number, data: string | ArrayBuffer}
 *   | {k: "a", seq: number}
 *   | {k: "p" | "q"}
 *   | {k: "c" | "r", code: number, reason: string}} Frame
 */

/**
 * Decode a frame: a string, or a binary WebSocket message (`b<seq>:` then raw bytes). A
 * string starting with `"` is a frame that SSE carries JSON-encoded (it holds a `\r`).
 * Throws on a malformed hello, escape or base64; other mistakes show as NaN numbers.
 * @param {string | ArrayBuffer} raw
 * @returns {Frame}
 */
export function decode(raw) {
  if (typeof raw != "string") {
    const bytes = new Uint8Array(raw);
    const colon = bytes.indexOf(58);
    return { k: "d", seq: +String.fromCharCode(...bytes.subarray(1, colon)), data: raw.slice(colon + 1) };
  }
  /** @type {string} */
  const frame = raw[0] == '"' ? JSON.parse(raw) : raw;
  const k = frame[0];
  const colon = frame.indexOf(":");
  const head = +frame.slice(1, colon < 0 ? undefined : colon);
  const body = frame.slice(colon + 1);
  if (k == "h") return { k, ack: JSON.parse(frame.slice(1)).ack };
  if (k == "d") return { k, seq: head, data: body };
  if (k == "b") return { k: "d", seq: head, data: Uint8Array.from(atob(body), (c) => c.charCodeAt(0)).buffer };
  if (k == "a") return { k, seq: head };
  if (k == "c" || k == "r") return { k, code: head, reason: body };
  return { k: k == "p" ? "p" : "q" }; // a kind this version does not know is ignored like a pong
}

/**
 * Encode a data frame: text as `d<seq>:text`; bytes as a raw binary message (`raw`, for
 * WebSocket) or as `b<seq>:<base64>`.
 * @param {number} seq
 * @param {string | Uint8Array<ArrayBuffer>} data
 * @param {boolean} [raw]
 * @returns {string | Uint8Array<ArrayBuffer>}
 */
export function encode(seq, data, raw) {
  if (typeof data == "string") return `d${seq}:${data}`;
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
