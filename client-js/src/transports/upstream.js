// @ts-check
/**
 * HTTP for the SSE and long-poll transports: a request with a deadline, and the upstream
 * loop that POSTs the client's frames in batches, one POST in flight, in order.
 */
import { batchBody, batchFrames, transportURL } from "../protocol.js";

/** @typedef {import("../types.js").TransportOptions} TransportOptions */
/** @typedef {import("../types.js").Env} Env */

/** Characters of frames per POST (one frame always goes, whatever its size). */
const BATCH_CHARS = 262144;

/**
 * Fetch `url` within `ms` milliseconds (or until `signal` aborts) and return its JSON body.
 * A failure throws `{code, reason, status?}`: the close code and reason of an HTTP error's
 * JSON body, or 1006 when the network failed, time ran out, or the answer was not JSON;
 * `{reason}` alone where there is no fetch.
 * @param {Env} env
 * @param {string} url
 * @param {RequestInit} init
 * @param {number} ms
 * @param {AbortSignal} [signal]
 * @returns {Promise<any>}
 */
export async function request(env, url, init, ms, signal) {
  if (!env.fetch) throw { reason: "fetch is missing" };
  const abort = new AbortController();
  const cancel = () => abort.abort();
  const timer = env.setTimeout(cancel, ms);
  signal?.addEventListener("abort", cancel);
  let response, body;
  try {
    response = await env.fetch(url, { ...init, signal: abort.signal });
    body = await response.json().catch(() => null);
  } catch (error) {
    throw { code: 1006, reason: `${error}` };
  } finally {
    env.clearTimeout(timer);
    signal?.removeEventListener("abort", cancel);
  }
  if (response.status == 200 && body) return body;
  throw { status: response.status, code: body?.code || 1006, reason: body?.error || `HTTP ${response.status}` };
}

/**
 * The upstream half of SSE and long-polling: `send` queues a frame, and the queue goes up
 * by POST to `<mount>/<path>`; the frames of each answer go to `o.onframe`, a failure to `end`.
 * @param {TransportOptions} o
 * @param {string} path
 * @param {AbortSignal} signal aborts the POST in flight when the transport closes
 * @param {(code: number, reason: string) => void} end
 */
export function upstream(o, path, signal, end) {
  /** @type {string[]} */
  const queue = [];
  let busy = false;
  /** @param {string} to @param {string} [body] */
  const call = (to, body) => {
    const init = { method: "POST", headers: { "Content-Type": "application/json", "X-Realtime-Token": o.token }, body };
    return request(o, transportURL(o.url, to, { sid: o.sid }), init, o.timeout, signal);
  };
  /** @param {string[]} frames */
  const post = async (frames) => batchFrames(await call(path, batchBody(frames)));
  const pump = async () => {
    busy = true;
    while (queue.length && !signal.aborted) {
      let count = 1;
      for (let chars = queue[0].length; count < queue.length && count < o.maxBatch; count++) {
        if ((chars += queue[count].length) > BATCH_CHARS) break;
      }
      try {
        for (const frame of await post(queue.splice(0, count))) if (!signal.aborted) o.onframe(frame);
      } catch (/** @type {any} */ error) {
        end(error.code, error.reason);
      }
    }
    busy = false;
  };
  return {
    call,
    post,
    /** @param {string | import("../types.js").Bytes} frame always a string: binary goes in base64 here */
    send(frame) {
      queue.push(/** @type {string} */ (frame));
      if (!busy) pump();
    },
  };
}
