// @ts-check
import { batchFrames, transportURL } from "../protocol.js";
import { request, upstream } from "./upstream.js";

/**
 * Long-polling: GETs that each answer a batch of frames, POST up. The first poll carries
 * `open=1` and is answered at once with the hello; each poll's `last` acknowledges every
 * message received before it, so no ack frames go up.
 * @param {import("../types.js").TransportOptions} o
 * @returns {import("../types.js").Transport}
 */
export function longpoll(o) {
  const abort = new AbortController();
  const { signal } = abort;
  /** @param {number} code @param {string} reason */
  const end = (code, reason) => {
    if (signal.aborted) return;
    abort.abort();
    o.onclose(code, reason);
  };
  const up = upstream(o, "longpoll", signal, end);
  (async () => {
    for (let first = true; !signal.aborted; first = false) {
      const params = { sid: o.sid, last: o.last(), open: first ? 1 : "", fb: first ? o.fb : "" };
      const url = transportURL(o.url, "longpoll", params);
      try {
        const init = { headers: { "X-Realtime-Token": o.token } };
        const frames = batchFrames(await request(o, url, init, o.timeout, signal));
        for (const frame of frames) if (!signal.aborted) o.onframe(frame);
      } catch (/** @type {any} */ error) {
        end(error.code, error.reason);
      }
      // No poll while an upgrade's WebSocket opens: its `last` would ack past the WebSocket's.
      await o.held();
    }
  })();
  return { send: up.send, close: () => abort.abort() };
}

/** @param {import("../types.js").Env} env */
longpoll.supported = (env) => env.fetch;
