/**
 * A pino JSON line as one line a person reads: `12:04:05 INFO  enforcer  partitions assigned  partitions=[0,1,2]`,
 * with an error's stack below it. Small on purpose: the JSON line is the record; this is a view of it.
 */
const LEVELS: Record<number, [string, string]> = {
  10: ['TRACE', '\x1b[90m'],
  20: ['DEBUG', '\x1b[36m'],
  30: ['INFO ', '\x1b[32m'],
  40: ['WARN ', '\x1b[33m'],
  50: ['ERROR', '\x1b[31m'],
  60: ['FATAL', '\x1b[35m'],
};
const DIM = '\x1b[2m';
const RESET = '\x1b[0m';
/** fields every record has, shown in the line's head or not at all */
const HEAD = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name', 'service', 'err', 'v']);

function value(v: unknown): string {
  if (typeof v === 'string') return /^[\w./:@+-]*$/.test(v) && v !== '' ? v : JSON.stringify(v);
  return JSON.stringify(v) ?? String(v);
}

export function prettyLine(line: string, opts: { colors?: boolean } = {}): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  const c = (code: string, s: string) => (opts.colors ? `${code}${s}${RESET}` : s);
  const [label, colour] = LEVELS[Number(rec.level)] ?? [String(rec.level).toUpperCase().padEnd(5), ''];
  const time = typeof rec.time === 'number' ? new Date(rec.time).toISOString().slice(11, 23) : '';
  const who = typeof rec.service === 'string' ? rec.service : typeof rec.name === 'string' ? rec.name : '';
  const fields = Object.entries(rec)
    .filter(([k]) => !HEAD.has(k))
    .map(([k, v]) => `${k}=${value(v)}`)
    .join(' ');
  let out = `${c(DIM, time)} ${c(colour, label)} ${c(DIM, who.padEnd(8))} ${String(rec.msg ?? '')}`;
  if (fields) out += `  ${c(DIM, fields)}`;
  const err = rec.err as { type?: string; message?: string; stack?: string } | undefined;
  if (err && typeof err === 'object') {
    const stack = err.stack ?? `${err.type ?? 'Error'}: ${err.message ?? ''}`;
    out += `\n${stack
      .split('\n')
      .map((l) => `    ${l}`)
      .join('\n')}`;
  }
  return `${out}\n`;
}
