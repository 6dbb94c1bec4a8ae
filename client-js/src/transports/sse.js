// @ts-check
import { transportURL } from "../protocol.js";
import { upstream } from "./upstream.js";

/**
 * Server-Sent Events down (a native EventSource), POST up.
 *
 * The EventSource's own reconnection is not used: the client reconnects and resumes. A
 * stream that opens but brings no hello (a proxy that buffers it) is abandoned by the client's
 * open timeout, for long-polling.
 * @param {import("../types.js").TransportOptions} o
 * @returns {import("../types.js").Transport}
 */
export function sse(o) {
  const abort = new AbortController();
  const { signal } = abort;
  /** @param {number} code @param {string} reason */
  const end = (code, reason) => {
    if (signal.aborted) return;
    close();
    o.onclose(code, reason);
  };
  /** @type {EventSource | undefined} */
  let source;
  const close = () => {
    source?.close();
    abort.abort();
  };
  const up = upstream(o, "sse", signal, end);
  let streaming = false;
  /** @param {string} ticket */
  const open = (ticket) => {
    if (signal.aborted) return;
    const es = (source = new /** @type {typeof EventSource} */ (o.EventSource)(
      transportURL(o.url, "sse", { sid: o.sid, ticket, last: o.last(), fb: o.fb }),
    ));
    es.onmessage = (event) => {
      streaming = true;
      o.onframe(event.data);
    };
    es.onerror = () => {
      es.close();
      // A browser hides why a stream was refused (unknown session, wrong token): an empty
      // POST tells, and changes nothing on the server.
      if (streaming) end(1006, "event stream lost");
      else up.post([]).then(() => end(1006, "event stream failed"), fail);
    };
  };
  /** @param {any} e */
  const fail = (e) => end(e.code, e.reason);
  // An EventSource sets no headers: its URL carries a single-use ticket, never the token.
  // Each stream asks for its own (the negotiation's is for clients written by hand).
  up.call("ticket").then((t) => open(t.ticket), fail);
  return { send: up.send, close };
}

/** @param {import("../types.js").Env} env */
sse.supported = (env) => env.EventSource && env.fetch;
