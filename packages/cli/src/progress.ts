/**
 * Progress of long work on stderr (stdout carries the command's result), as "verifying: 1,000 of
 * 4,000 (25 %) rows, …" (not "custos …:", the form of the commands' warnings and errors). On a
 * terminal one line redrawn in place at most four times a second; otherwise a plain line every 10 s,
 * so that short runs print nothing and logs of long ones show they are alive. Ended by done().
 */
export interface ProgressStream {
  write(s: string): unknown;
  isTTY?: boolean | undefined;
}

export interface ProgressOptions {
  /** what is counted, e.g. "events", "rows" */
  unit: string;
  stream?: ProgressStream;
  /** ms between plain lines when not on a terminal */
  plainEveryMs?: number;
  now?: () => number;
}

export interface Progress {
  /** `done` items so far, of `total` when known */
  update(done: number, total?: number): void;
  /**
   * The end: the line cleared on a terminal, a last plain line when plain lines were printed.
   * `final`: the count at the end, when updates were not told every item.
   */
  done(final?: number): void;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

function duration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.round(s)}s`;
}

export function progress(label: string, opts: ProgressOptions): Progress {
  const stream = opts.stream ?? process.stderr;
  const now = opts.now ?? Date.now;
  const tty = stream.isTTY === true;
  const every = tty ? 250 : (opts.plainEveryMs ?? 10_000);
  const start = now();
  let last = start;
  let shown = false;
  let latest = { done: 0, total: undefined as number | undefined };
  const line = () => {
    const s = (now() - start) / 1000;
    const rate = latest.done / Math.max(s, 0.001);
    const of = latest.total
      ? ` of ${fmt(latest.total)} (${Math.min(100, Math.floor((latest.done / latest.total) * 100))} %)`
      : '';
    const eta = latest.total && rate > 0 ? `, ${duration((latest.total - latest.done) / rate)} left` : '';
    return `${label}: ${fmt(latest.done)}${of} ${opts.unit}, ${fmt(rate)}/s, ${duration(s)}${eta}`;
  };
  return {
    update(done, total) {
      latest = { done, total };
      const t = now();
      if (t - last < every) return;
      last = t;
      shown = true;
      stream.write(tty ? `\r${line()}\x1b[K` : `${line()}\n`);
    },
    done(final) {
      if (final !== undefined) latest = { ...latest, done: final };
      if (!shown) return;
      stream.write(tty ? '\r\x1b[K' : `${line()}, done\n`);
    },
  };
}
