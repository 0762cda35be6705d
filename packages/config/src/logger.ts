import { pino } from 'pino';
import { prettyLine } from './pretty.js';

export type Logger = pino.Logger;
export const logFormats = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof logFormats)[number];

/** `auto`: readable lines when a person watches (stdout and stderr are terminals), JSON otherwise. */
export function resolveLogFormat(
  format: LogFormat,
  tty = process.stdout.isTTY === true && process.stderr.isTTY === true,
): 'json' | 'pretty' {
  if (format !== 'auto') return format;
  return tty ? 'pretty' : 'json';
}

/**
 * Logs to stderr, so stdout stays free for command output (e.g. `custos evaluate`): JSON lines, or
 * with `pretty` one readable line per record, in colour when `colors` (the process's env parse turns
 * NO_COLOR into `false`: logColors).
 */
export function createLogger(name: string, level = 'info', format: LogFormat = 'auto', colors = true): Logger {
  const options = { name, level, base: { service: name } };
  if (resolveLogFormat(format) === 'json') return pino(options, pino.destination(2));
  return pino(options, { write: (line: string) => writeAboveStatus(prettyLine(line, { colors })) });
}

/** Whether readable logs are coloured: not when NO_COLOR is set to anything (no-color.org). */
export const logColors = (e: { NO_COLOR?: string | undefined }): boolean => e.NO_COLOR === undefined;

// A status line (see setStatusLine) stays below the readable log lines: each line clears it,
// is written, and draws it again. Only on a terminal (pretty logs), where \r and ESC[K work.
let status: string | undefined;
const CLEAR = '\r\x1b[K';

function writeAboveStatus(text: string): void {
  process.stderr.write(status ? `${CLEAR}${text}${status}` : text);
}

/** Shows `text` as the last line of a terminal, below the log lines; undefined removes it. */
export function setStatusLine(text: string | undefined): void {
  if (!process.stderr.isTTY) return;
  process.stderr.write(text ? `${CLEAR}${text}` : status ? CLEAR : '');
  status = text;
}
