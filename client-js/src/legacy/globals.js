// @ts-check
/**
 * The globals the client uses that an ES2015 engine may lack, for the legacy build: esbuild
 * (`inject`, scripts/build.mjs) makes every use of one of these names in the client use the
 * export of the same name instead. Each is the engine's own where it has one.
 */
import { Abort, Utf8Encoder, anchorURL, base64Decode, base64Encode } from "./fallbacks.js";

/** The global object: `self` is it in every window and worker (`globalThis` is ES2020). */
const G = /** @type {any} */ (self);
export { G as globalThis };

export const TextEncoder = G.TextEncoder || Utf8Encoder;
export const AbortController = G.AbortController || Abort;
/** @type {(text: string) => string} */
export const atob = G.atob ? (/** @type {string} */ text) => G.atob(text) : base64Decode;
/** @type {(text: string) => string} */
export const btoa = G.btoa ? (/** @type {string} */ text) => G.btoa(text) : base64Encode;

/** The URL constructor, where it is one (not in every old engine), else one made of a link. */
export const URL = (() => {
  try {
    return new G.URL("b", "http://a/").href == "http://a/b" ? G.URL : anchorURL;
  } catch {
    return anchorURL;
  }
})();
