/**
 * Waiting in tests: on an observable condition, never for a fixed time. A fixed sleep is either too
 * short on a loaded machine (a flaky test) or longer than needed everywhere else (a slow one).
 */

export interface WaitOptions {
  /** what is awaited, for the timeout's message, e.g. "300 decisions" */
  what: string;
  /** give up after this long; default 60 s */
  timeoutMs?: number;
  /** time between two checks; default 100 ms */
  everyMs?: number;
  /**
   * Treat an error thrown by the condition as "not yet" (e.g. a service that is still starting and
   * refuses connections); the last one is named in the timeout's message. By default it fails the wait.
   */
  retryErrors?: boolean;
  /** more to say when the wait times out, e.g. the logs of the processes under test */
  detail?: () => string;
}

/** A value that means "not yet": the condition is checked again. */
type NotYet = undefined | null | false;

/**
 * Checks `condition` until it returns something other than undefined, null or false, and returns
 * that; throws when `timeoutMs` passes first. The condition may be asynchronous.
 */
export async function waitFor<T>(condition: () => T | NotYet | Promise<T | NotYet>, options: WaitOptions): Promise<T> {
  const { what, timeoutMs = 60_000, everyMs = 100, retryErrors = false, detail } = options;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await condition();
      if (v !== undefined && v !== null && v !== false) return v;
    } catch (err) {
      if (!retryErrors) throw err;
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const cause =
        lastError === undefined ? '' : ` (last error: ${lastError instanceof Error ? lastError.message : String(lastError)})`;
      const more = detail ? `\n${detail()}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}${more}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Spreads a test's own traffic over time (e.g. a chunk of events every 100 ms, so that something
 * can happen mid-stream). Never a way to wait for a result: that is `waitFor`.
 */
export function pace(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
