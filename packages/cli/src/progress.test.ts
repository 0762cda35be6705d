import { describe, expect, it } from 'vitest';
import { progress } from './progress.js';

function sink(isTTY: boolean) {
  const out: string[] = [];
  return { out, stream: { isTTY, write: (s: string) => out.push(s) } };
}

describe('progress', () => {
  it('prints nothing for work shorter than one interval', () => {
    const { out, stream } = sink(false);
    let t = 0;
    const p = progress('evaluating', { unit: 'events', stream, now: () => t });
    t = 9_000;
    p.update(5);
    p.done();
    expect(out).toEqual([]);
  });

  it('prints a plain line every interval off a terminal, with the total, and a last line', () => {
    const { out, stream } = sink(false);
    let t = 0;
    const p = progress('verifying', { unit: 'rows', stream, now: () => t });
    t = 10_000;
    p.update(1_000_000, 4_000_000);
    t = 15_000;
    p.update(1_500_000, 4_000_000);
    t = 20_000;
    p.update(2_000_000, 4_000_000);
    p.done();
    expect(out).toEqual([
      'verifying: 1,000,000 of 4,000,000 (25 %) rows, 100,000/s, 10s, 30s left\n',
      'verifying: 2,000,000 of 4,000,000 (50 %) rows, 100,000/s, 20s, 20s left\n',
      'verifying: 2,000,000 of 4,000,000 (50 %) rows, 100,000/s, 20s, 20s left, done\n',
    ]);
  });

  it('redraws one line on a terminal and clears it at the end', () => {
    const { out, stream } = sink(true);
    let t = 0;
    const p = progress('replaying', { unit: 'decisions', stream, now: () => t });
    t = 300;
    p.update(30_000);
    t = 400;
    p.update(40_000);
    t = 600;
    p.update(60_000);
    p.done();
    expect(out).toEqual([
      '\rreplaying: 30,000 decisions, 100,000/s, 0s\x1b[K',
      '\rreplaying: 60,000 decisions, 100,000/s, 1s\x1b[K',
      '\r\x1b[K',
    ]);
  });
});
