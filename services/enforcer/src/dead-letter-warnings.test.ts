import { waitFor } from '@custos/test/support';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { DeadLetterWarnings } from './dead-letter-warnings.js';

interface Line {
  msg: string;
  deadLettered: number;
  total: number;
  example: { offset: string };
}

describe('DeadLetterWarnings', () => {
  it('warns at once, then once per interval with the count since, and flushes a late count', async () => {
    const lines: Line[] = [];
    const logger = pino({ level: 'warn' }, { write: (s: string) => void lines.push(JSON.parse(s) as Line) });
    const w = new DeadLetterWarnings(logger, 'decode', 'dlq', 100);
    const sample = (offset: string) => ({ partition: 0, offset, error: 'DecodeError', reason: 'bad' });
    w.note(1, sample('1'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ msg: 'records dead-lettered at the decode step', deadLettered: 1, total: 1 });
    // within the interval: counted, not logged
    w.note(3, sample('2'));
    w.note(2, sample('3'));
    expect(lines).toHaveLength(1);
    // after it, without a further record: one line with the count and the first example since
    await waitFor(() => lines.length === 2, { what: 'the late count flushed', timeoutMs: 5000, everyMs: 5 });
    expect(lines[1]).toMatchObject({ deadLettered: 5, total: 6, example: { offset: '2' } });
    w.close();
    expect(lines).toHaveLength(2);
  });
});
