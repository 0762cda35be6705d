/**
 * The logger the SDK writes to: any pino-compatible object (a pino logger or a child of one). Only
 * the four levels below are used, always as `(object, message)`.
 */
export type LogFn = (obj: object, msg?: string) => void;

export interface LoggerLike {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}

const noop: LogFn = () => {};
export const silentLogger: LoggerLike = { debug: noop, info: noop, warn: noop, error: noop };
