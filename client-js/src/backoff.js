// @ts-check
/**
 * Exponential backoff with full jitter: a delay drawn uniformly between 0 and
 * `min(max, initial * 2 ** attempt)`, so that clients cut off together do not come back
 * together (a restarting server is not met by a thundering herd).
 * @param {number} attempt 0 for the first retry
 * @param {number} initial milliseconds
 * @param {number} max milliseconds
 * @param {() => number} [random] uniform in [0, 1)
 * @returns {number} milliseconds
 */
export const backoff = (attempt, initial, max, random = Math.random) =>
  random() * Math.min(max, initial * 2 ** Math.min(attempt, 32));
