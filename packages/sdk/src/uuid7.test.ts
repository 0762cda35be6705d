import { describe, expect, it } from 'vitest';
import { uuidv7 } from './uuid7.js';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('uuidv7', () => {
  it('is a version-7, variant-10 UUID carrying the millisecond time', () => {
    const now = Date.parse('2026-03-02T10:00:00.123Z');
    const id = uuidv7(now);
    expect(id).toMatch(V7);
    expect(Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toBe(now);
  });
  it('is unique and increasing within a process, even within one millisecond or when the clock goes back', () => {
    const ids: string[] = [];
    const t = Date.now() + 10_000;
    for (let i = 0; i < 20_000; i++) ids.push(uuidv7(i < 10_000 ? t : t - 5));
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    for (const id of ids) expect(id).toMatch(V7);
  });
});
