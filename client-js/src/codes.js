// @ts-check
/**
 * The close codes by name, and what each means in a few words, for an application that
 * tests or shows why a session ended: `import { CloseCode } from "starlette-realtime/codes"`.
 * Outside the core build, which needs only each code's policy (protocol.js): the close
 * event's `reason`, from the server, says as much as the table.
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
  Object.freeze(
    // The codes not listed here mean their name in words: NORMAL_CLOSURE, "normal closure".
    Object.assign(
      /** @type {Record<number, string>} */ ({}),
      ...Object.keys(CloseCode).map((name) => ({
        [/** @type {any} */ (CloseCode)[name]]: name.toLowerCase().replace(/_/g, " "),
      })),
      {
        1012: "service restart: reconnect and resume",
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
      },
    ),
  )
);
