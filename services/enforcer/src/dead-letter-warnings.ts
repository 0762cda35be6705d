/**
 * Warns about records dead-lettered at the decode step without flooding the log: the first one at
 * once, then at most one warning per interval, counting what was dead-lettered since the last one
 * (and flushing that count after the interval even when no more arrive).
 */
import type { Logger } from 'pino';

export interface DeadLetterSample {
  partition: number;
  offset: string;
  error: string;
  reason: string;
}

export class DeadLetterWarnings {
  private lastAt = Number.NEGATIVE_INFINITY;
  private pending = 0;
  private sample?: DeadLetterSample;
  private total = 0;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly logger: Logger,
    private readonly step: string,
    private readonly topic: string,
    private readonly intervalMs = 10_000,
  ) {}

  /** `count` records dead-lettered at the step, `sample` one of them. */
  note(count: number, sample: DeadLetterSample): void {
    if (count <= 0) return;
    this.pending += count;
    this.total += count;
    this.sample ??= sample;
    const wait = this.lastAt + this.intervalMs - performance.now();
    if (wait <= 0) this.flush();
    else if (this.timer === undefined) {
      this.timer = setTimeout(() => this.flush(), wait);
      this.timer.unref();
    }
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending === 0) return;
    this.logger.warn(
      { step: this.step, deadLettered: this.pending, total: this.total, dlq: this.topic, example: this.sample },
      `records dead-lettered at the ${this.step} step`,
    );
    this.lastAt = performance.now();
    this.pending = 0;
    this.sample = undefined;
  }

  /** Logs what is pending now (on stop). */
  close(): void {
    this.flush();
  }
}
