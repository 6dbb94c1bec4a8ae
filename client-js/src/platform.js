// @ts-check
/**
 * The two things the client takes from the platform that older engines lack and that no
 * global stands in for: the legacy build (scripts/build.mjs) replaces this module with
 * legacy/platform.js.
 */

/** @type {any} the global object */
export const g = globalThis;

/** The page's own fetch, bound to it (undefined where there is none). */
export const defaultFetch = () => g.fetch?.bind(g);

/**
 * The bytes of a Blob.
 * @param {Blob} blob
 * @returns {Promise<ArrayBuffer>}
 */
export const blobBytes = (blob) => blob.arrayBuffer();
