// @ts-check
/**
 * The types of the client's API and of its transport interface (JSDoc only: no code).
 */

/** @typedef {"websocket" | "sse" | "longpoll"} TransportName */
/** @typedef {Uint8Array<ArrayBuffer>} Bytes */

/**
 * What the client takes from its environment; each defaults to the global of that name.
 * Tests inject fakes.
 * @typedef {object} Env
 * @property {typeof WebSocket} [WebSocket]
 * @property {typeof EventSource} [EventSource]
 * @property {typeof fetch} fetch
 * @property {Storage | null} [storage] where the transport that worked is remembered for an
 *   hour, for every tab of the origin (default localStorage; null: for this page only)
 * @property {(callback: () => void, ms: number) => any} setTimeout
 * @property {(id: any) => void} clearTimeout
 * @property {() => number} now wall-clock milliseconds
 * @property {() => number} random uniform in [0, 1), for the backoff's jitter
 */

/**
 * @typedef {object} Settings
 * @property {TransportName[]} [transports] the transports allowed, in order of preference
 *   (default: all, in the server's order)
 * @property {number} openTimeout ms a transport has to deliver its hello before the next is
 *   tried; at least 4 round trips of the negotiation. Default 5000.
 * @property {number} closeTimeout ms `close()` waits for the server's confirmation. Default 5000.
 * @property {number} reconnectDelay ms, bound of the first backoff delay (full jitter: the
 *   delay is uniform between 0 and the bound, which doubles at each attempt). Default 500.
 * @property {number} reconnectDelayMax ms, the largest bound. Default 30000.
 * @property {number} maxRetries attempts in a row before the client gives up. Default Infinity.
 * @property {number} upgradeAfter ms on SSE or long-polling before WebSocket is tried again in
 *   the background (the delay doubles after each failure; Infinity: never). Default 10000.
 * @property {number} raceAfter ms a transport may go without a hello before the next one is
 *   tried beside it (the first hello wins); at least 4 round trips of the negotiation, at
 *   most `openTimeout`. Default 750.
 * @property {"arraybuffer" | "blob"} [binaryType] how binary messages arrive. Default "arraybuffer".
 * @property {Record<string, string>} [headers] headers of the negotiation request, which the
 *   server's `authenticate` hook sees
 */

/** @typedef {Partial<Settings & Env>} Options */

/**
 * @typedef {object} Negotiated the answer to `POST <mount>/negotiate`
 * @property {string} sid
 * @property {string} token
 * @property {TransportName[]} transports
 * @property {number | null} ping_interval_ms
 * @property {number | null} ping_timeout_ms
 * @property {number} poll_timeout_ms
 * @property {number | null} max_message_size
 * @property {number | null} max_queue
 * @property {number | null} max_buffer_bytes
 * @property {number | null} max_batch
 * @property {string | null} [ticket] a single-use credential for the first event stream's URL
 */

/**
 * One transport connection. It calls `onframe` with each frame received and `onclose` once,
 * when it ends by itself; `close()` ends it without a callback.
 * @typedef {object} Transport
 * @property {(frame: string | Bytes) => void} send
 * @property {() => void} close
 * @property {boolean} [binary] whether binary data goes as raw binary frames
 *
 * @typedef {Env & {url: string, sid: string, token: string, last: () => number,
 *   held: () => Promise<void> | undefined, timeout: number, maxBatch: number, onframe: (raw: string | ArrayBuffer) => void,
 *   onclose: (code: number, reason: string) => void, fb: string}} TransportOptions
 *   `held` settles once no upgrade's WebSocket is opening (a long-poll waits for it).
 *   `fb` is appended to the opening request: "&fb=<transport>:<reason>" after a failed
 *   attempt, for the server's metrics, or "".
 *
 * @typedef {((o: TransportOptions) => Transport) & {supported: (env: Env) => unknown}} TransportFactory
 *   `supported` is truthy where the environment has what the transport needs.
 */

/**
 * @typedef {object} EventFields
 * @property {{}} open the first connection delivered its hello
 * @property {{data: string | ArrayBuffer | Blob}} message
 * @property {{data: string}} event an event's JSON, as it came (the events entry point,
 *   `realtime.events`, reads it: see `on`)
 * @property {{code: number, reason: string, wasClean: boolean}} close the session is over
 * @property {{code: number, reason: string}} error the session ends abnormally (before close)
 * @property {{code: number, reason: string, attempt: number, delay: number}} reconnecting
 *   the connection was lost (or could not open): the next attempt starts in `delay` ms
 * @property {{}} reconnect the session is carried again, nothing lost
 * @property {{code: number, reason: string}} reset the session was lost (`code` says why)
 *   and a new one starts: messages may be missing both ways
 * @property {{from: TransportName, to: TransportName}} transportchange
 * @property {{transport: TransportName, reason: string}} fallback a transport failed to open
 */
/** @typedef {{[K in keyof EventFields]: EventFields[K] & {type: K, target: import("./client.js").Client}}} EventMap */

export {};
