import type { Logger } from './logger.js';

/**
 * Runs `stop` once on SIGINT/SIGTERM, bounded by `timeoutMs`; a second signal or the timeout exits
 * at once. A clean stop exits with `process.exitCode` when one was set (a component that failed
 * fatally sets it before raising SIGTERM), else 0. Returns a function that removes the handlers.
 */
export function shutdownOnSignals(stop: () => Promise<void>, opts: { timeoutMs: number; logger?: Logger }): () => void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      opts.logger?.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    stopping = true;
    opts.logger?.info({ signal, timeoutMs: opts.timeoutMs }, 'shutting down');
    const timer = setTimeout(() => {
      opts.logger?.error({ timeoutMs: opts.timeoutMs }, 'shutdown timed out: exiting');
      process.exit(1);
    }, opts.timeoutMs);
    timer.unref();
    stop().then(
      () => {
        clearTimeout(timer);
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
