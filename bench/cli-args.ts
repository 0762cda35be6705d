/**
 * Command-line options of the benchmark scripts (`pnpm bench…`, `pnpm load`): node:util's parseArgs
 * with a usage text built from the same option list. `--help` (or `-h`) prints the usage and exits 0;
 * an unknown option, a missing value or a stray argument prints one line and exits 2.
 */
import { writeSync } from 'node:fs';
import { type ParseArgsOptionDescriptor, parseArgs } from 'node:util';

/** A parseArgs option with what the usage says of it. */
export type BenchOption = ParseArgsOptionDescriptor & {
  /** one line for the usage */
  help: string;
  /** the value's placeholder in the usage, e.g. N or SECONDS (default: VALUE) */
  arg?: string;
  /** left out of the usage (options meant for the script's own child processes) */
  internal?: boolean;
};

export interface Usage {
  /** how it is called, e.g. 'pnpm bench:enforcer' */
  command: string;
  /** what it measures or does: a short paragraph */
  summary: string;
  /** what it prints and writes */
  prints: string;
  /** positional arguments, e.g. '[suite…]'; without it none are accepted */
  positionals?: string;
}

/** The usage text of a script's options. */
export function usageText(usage: Usage, options: Record<string, BenchOption>): string {
  const rows = Object.entries(options)
    .filter(([, o]) => !o.internal)
    .map(([name, o]) => {
      const flag = o.type === 'boolean' ? `--${name}` : `--${name} ${o.arg ?? 'VALUE'}`;
      const def =
        o.default === true
          ? ` (on by default; --no-${name} turns it off)`
          : o.default === undefined || o.default === false || o.default === ''
            ? ''
            : ` (default: ${String(o.default)})`;
      return [flag, `${o.help}${def}`] as const;
    });
  rows.push(['--help, -h', 'print this and exit']);
  const width = Math.max(...rows.map(([f]) => f.length)) + 2;
  const lines = rows.map(([f, h]) => `  ${f.padEnd(width)}${h}`);
  return [
    `Usage: ${usage.command}${usage.positionals ? ` ${usage.positionals}` : ''} [options]`,
    '',
    usage.summary,
    '',
    'Options:',
    ...lines,
    '',
    `Prints: ${usage.prints}`,
    '',
  ].join('\n');
}

/** What parseArgs gives for these options. */
type Values<O extends Record<string, BenchOption>> = ReturnType<
  typeof parseArgs<{ options: O; allowPositionals: true; strict: true }>
>['values'];

/** Where the usage and the error line go, and how the script ends (the process's, outside tests). */
export interface ArgsIo {
  out: (text: string) => void;
  err: (text: string) => void;
  exit: (code: number) => never;
}

const processIo: ArgsIo = {
  // synchronous: process.exit would cut an asynchronous write to a pipe short
  out: (text) => writeSync(1, text),
  err: (text) => writeSync(2, text),
  exit: (code) => process.exit(code),
};

/**
 * Parses the process's arguments (a `--` that `pnpm script -- …` passes through is dropped), or
 * answers --help / a bad option as described above and exits.
 */
export function benchArgs<const O extends Record<string, BenchOption>>(
  usage: Usage,
  options: O,
  argv: string[] = process.argv.slice(2),
  io: ArgsIo = processIo,
): { values: Values<O>; positionals: string[] } {
  const args = argv.filter((a) => a !== '--');
  if (args.includes('--help') || args.includes('-h')) {
    io.out(usageText(usage, options));
    return io.exit(0);
  }
  try {
    // --no-X turns off an option that is on by default; parseArgs's own allowNegative would also take
    // an option named 'no-kafka' for the negation of 'kafka', so the negations are options here
    const negatable = Object.entries(options)
      .filter(([name, o]) => o.type === 'boolean' && o.default === true && !(`no-${name}` in options))
      .map(([name]) => name);
    const negations = Object.fromEntries(negatable.map((name) => [`no-${name}`, { type: 'boolean' as const }]));
    const { values, positionals } = parseArgs({
      args,
      options: { ...options, ...negations },
      allowPositionals: true,
      strict: true,
    });
    const parsed = values as Record<string, unknown>;
    for (const name of negatable) {
      if (parsed[`no-${name}`] === true) parsed[name] = false;
      delete parsed[`no-${name}`];
    }
    if (positionals.length > 0 && !usage.positionals) {
      throw new Error(`unexpected argument '${positionals[0]}'`);
    }
    return { values: values as Values<O>, positionals };
  } catch (err) {
    // parseArgs's messages are long and end with advice about '--'; the first sentence says it.
    const message = ((err as Error).message.split('. ')[0] ?? '').replace(/\.$/, '');
    io.err(`${usage.command}: ${message} (--help lists the options)\n`);
    return io.exit(2);
  }
}
