import { pino } from 'pino';

export type Logger = pino.Logger;

/** JSON logs to stderr, so stdout stays free for command output (e.g. `custos evaluate`). */
export function createLogger(name: string, level = 'info'): Logger {
  return pino({ name, level, base: { service: name } }, pino.destination(2));
}
