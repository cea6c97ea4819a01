// The one way the tests wait for something that happens on its own time (a socket event, a row,
// a tick in a client's store): poll a condition until it holds, or fail naming what never came.

/** @param {number} ms */
export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Resolves with the first truthy value `condition` returns (sync or async), checked at once and
 * then every `intervalMs`; rejects once `timeoutMs` have passed without one. `what` names what
 * was waited for in that error; a function is asked at the moment of failure (to show state).
 *
 * @template T
 * @param {() => T | Promise<T>} condition
 * @param {{ timeoutMs?: number, intervalMs?: number, what?: string | (() => string) }} [options]
 * @returns {Promise<Exclude<Awaited<T>, false | null | undefined | 0 | ''>>}
 */
export async function waitFor(condition, { timeoutMs = 10_000, intervalMs = 50, what = 'a condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return /** @type {any} */ (value);
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}`);
    }
    await sleep(intervalMs);
  }
}

/**
 * `promise`'s outcome, or the same timeout error as `waitFor` if it takes longer than `timeoutMs`.
 *
 * @template T
 * @param {Promise<T>} promise
 * @param {{ timeoutMs?: number, what?: string }} [options]
 * @returns {Promise<T>}
 */
export function within(promise, { timeoutMs = 10_000, what = 'a promise' } = {}) {
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  return /** @type {Promise<T>} */ (Promise.race([promise, late])).finally(() => clearTimeout(timer));
}
