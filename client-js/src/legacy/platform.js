// @ts-check
/**
 * platform.js for the legacy build: fetch over XMLHttpRequest where the page has no fetch
 * (or no AbortController, without which a fetch cannot be given a deadline), and a Blob's
 * bytes by FileReader where Blob.prototype.arrayBuffer is missing.
 */
import { readBlob, xhrFetch } from "./fallbacks.js";

/** @type {any} the global object */
export const g = globalThis; // legacy/globals.js stands in where the engine has no globalThis

/** @returns {typeof fetch | undefined} */
export const defaultFetch = () =>
  g.fetch && g.AbortController ? g.fetch.bind(g) : g.XMLHttpRequest ? /** @type {any} */ (xhrFetch) : undefined;

/**
 * @param {Blob} blob
 * @returns {Promise<ArrayBuffer>}
 */
export const blobBytes = (blob) => (blob.arrayBuffer ? blob.arrayBuffer() : readBlob(blob));
