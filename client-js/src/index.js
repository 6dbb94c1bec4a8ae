// @ts-check
/**
 * The browser client of realtime: one Session API over WebSocket, Server-Sent Events and
 * long-polling, with fallback, reconnection and resume.
 */
export { CLOSED, CLOSING, CONNECTING, Client, OPEN, connect } from "./client.js";
/** @typedef {import("./types.js").Options} Options */
/** @typedef {import("./types.js").EventMap} EventMap */
/** @typedef {import("./types.js").TransportName} TransportName */
export { backoff } from "./backoff.js";
export { RECONNECT_POLICY, policyOf } from "./protocol.js";
