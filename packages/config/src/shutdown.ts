import type { Logger } from './logger.js';

/** What is left of the shutdown budget, for a stop split between several services. */
export interface ShutdownBudget {
  /** milliseconds left before the process is made to exit, less a margin for exiting itself */
  left(): number;
}

/** Time kept back from the budget for closing endpoints and exiting after the services stopped. */
const EXIT_MARGIN_MS = 250;

/**
 * Runs `stop` once on SIGINT/SIGTERM, bounded by `timeoutMs`; a second signal or the timeout exits
 * at once. A clean stop exits with `process.exitCode` when one was set (a component that failed
 * fatally sets it before raising SIGTERM: see `stopOnFatal`), else 0. Returns a function that
 * removes the handlers.
 */
export function shutdownOnSignals(
  stop: (budget: ShutdownBudget) => Promise<void>,
  opts: { timeoutMs: number; logger?: Logger },
): () => void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      opts.logger?.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    stopping = true;
    opts.logger?.info({ signal, timeoutMs: opts.timeoutMs }, 'shutting down');
    const deadline = Date.now() + opts.timeoutMs;
    const timer = setTimeout(() => {
      opts.logger?.error({ timeoutMs: opts.timeoutMs }, 'shutdown timed out: exiting');
      process.exit(1);
    }, opts.timeoutMs);
    timer.unref();
    const started = Date.now();
    stop({ left: () => Math.max(0, deadline - Date.now() - EXIT_MARGIN_MS) }).then(
      () => {
        clearTimeout(timer);
        opts.logger?.info({ ms: Date.now() - started }, 'stopped');
        process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
      },
      (err: unknown) => {
        opts.logger?.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}

/**
 * What every service does when one of its parts cannot go on: exit non-zero through the same
 * graceful, bounded stop a signal starts (the other parts still finish their work in hand).
 */
export function stopOnFatal(): void {
  process.exitCode = 1;
  process.kill(process.pid, 'SIGTERM');
}
