/**
 * `custos evaluate --policy FILE [--state FILE] EVENTS.ndjson|-`: judges access events line by line.
 *
 * One output line per non-blank input line, in input order: `{eventId, outcome, codes, reasons, basis,
 * policyVersion}`, or `{eventId|null, outcome: "invalid", codes: [], errors, line}` for a line that is not
 * JSON or breaks the event contract. Blank (whitespace-only) lines are skipped: NDJSON tolerates them
 * and they carry no event. Every subject-state change is applied before the first event is judged;
 * bulk access is counted across the whole input in input order.
 */
import { once } from 'node:events';
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { compileBundle, type Evaluator, loadBundle, SubjectStateStore } from '@custos/policy';
import { type FieldError, parseAccessEvent, parseSubjectStateChange } from '@custos/schemas';
import type { Command } from 'commander';
import { type Progress, progress } from '../progress.js';

/** A failure of the command itself (bad policy, unreadable file); invalid events are not one. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly retriable = false,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export interface EvaluateOptions {
  policy: string;
  state?: string | undefined;
  /** a path, or `-` for `stdin` */
  events: string;
  stdin?: Readable;
  stdout: Writable;
  /** told the count of lines read now and then */
  progress?: Progress | undefined;
}

export interface EvaluateStats {
  allow: number;
  flag: number;
  deny: number;
  invalid: number;
  /** true when the reader of stdout went away (EPIPE) before the end */
  truncated: boolean;
}

async function openLines(path: string, what: string): Promise<AsyncIterable<string> & { close(): void }> {
  try {
    const fh = await open(path, 'r');
    return createInterface({ input: fh.createReadStream({ encoding: 'utf8' }), crlfDelay: Number.POSITIVE_INFINITY });
  } catch (err) {
    const code = err instanceof Error && 'code' in err ? String(err.code) : '';
    throw new CliError(
      `cannot read ${what} ${path}: ${code === 'ENOENT' ? 'file not found' : err instanceof Error ? err.message : String(err)}`,
    );
  }
}

const stripBom = (line: string, n: number) => (n === 1 && line.charCodeAt(0) === 0xfeff ? line.slice(1) : line);

/** Applies every change of a subject-state NDJSON file; a bad line stops the command (judging with partial state could wrongly allow). */
export async function loadSubjectState(path: string): Promise<SubjectStateStore> {
  const store = new SubjectStateStore();
  const lines = await openLines(path, 'subject-state file');
  let n = 0;
  for await (const raw of lines) {
    const line = stripBom(raw, ++n);
    if (line.trim() === '') continue;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch (err) {
      throw new CliError(`${path}:${n}: not JSON: ${err instanceof Error ? err.message : String(err)}`);
    }
    const r = parseSubjectStateChange(json);
    if (!r.ok)
      throw new CliError(
        `${path}:${n}: invalid subject-state change: ${r.errors.map((e) => `${e.path || '(record)'}: ${e.message}`).join('; ')}`,
      );
    store.apply(r.value);
  }
  return store;
}

/** Batches lines into large writes and honours back-pressure; stops quietly when the reader goes away (EPIPE). */
class LineWriter {
  private buf: string[] = [];
  private size = 0;
  private scheduled = false;
  private error: Error | undefined;
  closed = false;

  constructor(private readonly out: Writable) {
    out.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') this.closed = true;
      else this.error = err;
    });
  }

  async write(line: string): Promise<void> {
    if (this.error !== undefined) throw this.error;
    this.buf.push(line);
    this.size += line.length;
    if (this.size >= 65_536 || this.out.writableNeedDrain) await this.flush();
    else if (!this.scheduled) {
      // Flush once the current input chunk is processed, so that interactive use sees answers promptly.
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.push();
      });
    }
  }

  private push(): void {
    if (this.buf.length === 0 || this.closed) return;
    const chunk = this.buf.join('');
    this.buf = [];
    this.size = 0;
    this.out.write(chunk);
  }

  async flush(): Promise<void> {
    this.push();
    if (this.out.writableNeedDrain && !this.closed) {
      const ac = new AbortController();
      try {
        await Promise.race([once(this.out, 'drain', { signal: ac.signal }), once(this.out, 'close', { signal: ac.signal })]);
      } catch (err) {
        if (!this.closed) throw err;
      } finally {
        ac.abort();
      }
    }
    if (this.error !== undefined) throw this.error;
  }
}

function eventIdOf(json: unknown): string | null {
  if (json !== null && typeof json === 'object' && 'eventId' in json && typeof json.eventId === 'string') return json.eventId;
  return null;
}

/** Judges one input line (exported for tests and the benchmark of the CLI path). */
export function judgeLine(
  evaluator: Evaluator,
  ctx: Parameters<Evaluator['evaluate']>[1],
  line: string,
  lineNo: number,
): { outcome: 'allow' | 'flag' | 'deny' | 'invalid'; json: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch (err) {
    const errors: FieldError[] = [{ path: '', message: `not JSON: ${err instanceof Error ? err.message : String(err)}` }];
    return { outcome: 'invalid', json: JSON.stringify({ eventId: null, outcome: 'invalid', codes: [], errors, line: lineNo }) };
  }
  const r = parseAccessEvent(raw);
  if (!r.ok) {
    return {
      outcome: 'invalid',
      json: JSON.stringify({ eventId: eventIdOf(raw), outcome: 'invalid', codes: [], errors: r.errors, line: lineNo }),
    };
  }
  const j = evaluator.evaluate(r.value, ctx);
  const out = {
    eventId: r.value.eventId,
    outcome: j.outcome,
    codes: j.reasons.map((x) => x.code),
    reasons: j.reasons,
    basis: j.basis,
    policyVersion: j.policyVersion,
  };
  return { outcome: j.outcome, json: JSON.stringify(out) };
}

export async function runEvaluate(opts: EvaluateOptions): Promise<EvaluateStats> {
  let loaded: Awaited<ReturnType<typeof loadBundle>>;
  try {
    loaded = await loadBundle(opts.policy);
  } catch (err) {
    throw new CliError(err instanceof Error ? err.message : String(err));
  }
  const evaluator = compileBundle(loaded.bundle, loaded.policyVersion);
  const subjectState = opts.state === undefined ? new SubjectStateStore() : await loadSubjectState(opts.state);
  const bulk = evaluator.createBulkWindow();
  const ctx = { subjectState, bulk };

  let lines: AsyncIterable<string> & { close(): void };
  if (opts.events === '-') {
    if (opts.stdin === undefined) throw new CliError('no stdin to read events from');
    lines = createInterface({ input: opts.stdin, crlfDelay: Number.POSITIVE_INFINITY });
  } else lines = await openLines(opts.events, 'events file');

  const writer = new LineWriter(opts.stdout);
  const stats: EvaluateStats = { allow: 0, flag: 0, deny: 0, invalid: 0, truncated: false };
  let n = 0;
  for await (const raw of lines) {
    const line = stripBom(raw, ++n);
    if ((n & 4095) === 0) opts.progress?.update(n);
    if (line.trim() === '') continue;
    const r = judgeLine(evaluator, ctx, line, n);
    stats[r.outcome]++;
    await writer.write(`${r.json}\n`);
    if (writer.closed) {
      stats.truncated = true;
      lines.close();
      break;
    }
  }
  await writer.flush();
  opts.progress?.done(n);
  return stats;
}

export function registerEvaluate(program: Command, io: { stdin: Readable; stdout: Writable; stderr: Writable } = process): void {
  program
    .command('evaluate')
    .description('judge access events (NDJSON, one per line) against a policy bundle; writes one JSON line per event')
    .requiredOption('--policy <file>', 'policy bundle (JSON)')
    .option('--state <file>', 'subject-state changes (NDJSON); all are applied before any event is judged')
    .option('--summary', 'print the count of each outcome to stderr at the end')
    .argument('<events>', 'access events as NDJSON: a file, or - for stdin')
    .action(async (events: string, opts: { policy: string; state?: string; summary?: boolean }) => {
      // Progress only when the decisions go elsewhere than the terminal: it would garble them.
      const p = (io.stdout as { isTTY?: boolean }).isTTY
        ? undefined
        : progress('evaluating', { unit: 'lines', stream: io.stderr });
      const stats = await runEvaluate({
        policy: opts.policy,
        state: opts.state,
        events,
        stdin: io.stdin,
        stdout: io.stdout,
        progress: p,
      });
      if (opts.summary) {
        io.stderr.write(
          `allow ${stats.allow}, flag ${stats.flag}, deny ${stats.deny}, invalid ${stats.invalid}${stats.truncated ? ' (output closed early)' : ''}\n`,
        );
      }
    });
}
