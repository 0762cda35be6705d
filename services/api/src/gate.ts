/**
 * Bounded concurrency with a deadline for the heavy routes (periodic reports, integrity
 * verification): at most `concurrency` run at once, at most `queue` wait, and a request not answered
 * within `deadlineMs` of arriving gets 504 naming the deadline. One caller (a credential) may have at
 * most `perCaller` running or waiting: beyond that it is sending too much, and is answered 429 with
 * Retry-After at once, so one caller cannot fill the queue. A queue filled by many callers is the
 * service unable to take more: 503 with Retry-After, so a burst of reports cannot take every
 * ClickHouse thread from the searches.
 * A slot is freed when its work has really ended (the work is given the deadline, and stops there if
 * it can: a worker thread is ended; its queries stop at their own time limit), not when its caller
 * gave up, so the bound holds.
 */
import { HttpError } from './errors.js';

interface Waiter {
  go(): void;
}

export class Gate {
  private running = 0;
  private readonly waiting: Waiter[] = [];
  /** running or waiting, per caller */
  private readonly byCaller = new Map<string, number>();

  constructor(
    readonly concurrency: number,
    readonly queue: number,
    readonly deadlineMs: number,
    readonly perCaller: number = concurrency,
  ) {}

  get inFlight(): number {
    return this.running;
  }

  /** Runs `f` in a slot for `caller`; `f` gets the deadline (a promise that rejects when it passes). */
  async run<T>(what: string, caller: string, f: (deadline: Promise<never>) => Promise<T>): Promise<T> {
    const t0 = Date.now();
    const held = this.byCaller.get(caller) ?? 0;
    if (held >= this.perCaller) {
      throw new HttpError(
        429,
        `this credential already has ${held} ${what} request(s) in progress, the most one credential may have; wait for them to finish`,
        undefined,
        { 'Retry-After': String(Math.max(1, Math.ceil(this.deadlineMs / 1000 / 4))) },
      );
    }
    this.byCaller.set(caller, held + 1);
    const done = () => {
      const n = (this.byCaller.get(caller) ?? 1) - 1;
      if (n > 0) this.byCaller.set(caller, n);
      else this.byCaller.delete(caller);
    };
    try {
      await this.acquire(what);
    } catch (err) {
      done();
      throw err;
    }
    const remaining = this.deadlineMs - (Date.now() - t0);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(this.tooSlow(what)), Math.max(0, remaining));
    });
    late.catch(() => {});
    const work = f(late);
    // the caller's share, like the slot, is freed when the work has really ended
    const end = () => {
      done();
      this.release();
    };
    work.then(end, end);
    try {
      return await Promise.race([work, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  private tooSlow(what: string): HttpError {
    return new HttpError(
      504,
      `${what} did not finish within its deadline of ${this.deadlineMs / 1000} s; narrow the request or try again later`,
    );
  }

  private acquire(what: string): Promise<void> {
    if (this.running < this.concurrency) {
      this.running++;
      return Promise.resolve();
    }
    if (this.waiting.length >= this.queue) {
      return Promise.reject(
        new HttpError(503, `the service has too many ${what} requests in progress; try again later`, undefined, {
          'Retry-After': '10',
        }),
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
