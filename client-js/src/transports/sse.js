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
  const close = () => {
    source.close();
    abort.abort();
  };
  const up = upstream(o, "sse", signal, end);
  const source = new /** @type {typeof EventSource} */ (o.EventSource)(
    transportURL(o.url, "sse", { sid: o.sid, token: o.token, last: o.last(), fb: o.fb }),
  );
  let streaming = false;
  source.onmessage = (event) => {
    streaming = true;
    o.onframe(event.data);
  };
  source.onerror = () => {
    source.close();
    // A browser hides why a stream was refused (unknown session, wrong token): an empty
    // POST tells, and changes nothing on the server.
    if (streaming) end(1006, "event stream lost");
    else up.post([]).then(() => end(1006, "event stream failed"), (e) => end(e.code, e.reason));
  };
  return { send: up.send, close };
}

/** @param {import("../types.js").Env} env */
sse.supported = (env) => env.EventSource && env.fetch;
