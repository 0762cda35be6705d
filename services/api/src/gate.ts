/**
 * Bounded concurrency with a deadline for the heavy routes (periodic reports, integrity
 * verification): at most `concurrency` run at once, at most `queue` wait, and a request not answered
 * within `deadlineMs` of arriving gets 503 with Retry-After. A full queue is answered 503 at once, so
 * a burst of reports cannot take every ClickHouse thread from the searches. A slot is freed when its
 * work has really ended (its queries stop at their own time limit), not when its caller gave up, so
 * the bound holds.
 */
import { HttpError } from './errors.js';

interface Waiter {
  go(): void;
}

export class Gate {
  private running = 0;
  private readonly waiting: Waiter[] = [];

  constructor(
    readonly concurrency: number,
    readonly queue: number,
    readonly deadlineMs: number,
  ) {}

  get inFlight(): number {
    return this.running;
  }

  async run<T>(what: string, f: () => Promise<T>): Promise<T> {
    const t0 = Date.now();
    await this.acquire(what);
    const work = f();
    work.then(
      () => this.release(),
      () => this.release(),
    );
    const remaining = this.deadlineMs - (Date.now() - t0);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(this.tooSlow(what)), Math.max(0, remaining));
    });
    try {
      return await Promise.race([work, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  private tooSlow(what: string): HttpError {
    return new HttpError(503, `${what} did not finish within ${this.deadlineMs / 1000} s; try again later`, undefined, {
      'Retry-After': '30',
    });
  }

  private acquire(what: string): Promise<void> {
    if (this.running < this.concurrency) {
      this.running++;
      return Promise.resolve();
    }
    if (this.waiting.length >= this.queue) {
      return Promise.reject(
        new HttpError(503, `too many ${what} requests in progress; try again later`, undefined, { 'Retry-After': '10' }),
      );
    }
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        go: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        const i = this.waiting.indexOf(w);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(this.tooSlow(what));
      }, this.deadlineMs);
      this.waiting.push(w);
    });
  }

  private release(): void {
    const next = this.waiting.shift();
    // the slot passes straight to the next waiter
    if (next) next.go();
    else this.running--;
  }
}
