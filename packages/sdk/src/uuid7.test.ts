import { describe, expect, it } from 'vitest';
import { uuidv7, writeUuidv7 } from './uuid7.js';

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

describe('writeUuidv7', () => {
  it('writes the same sequence as uuidv7, interleaved with it, as ASCII text at any offset', () => {
    const ids: string[] = [];
    const buf = Buffer.alloc(64, 0xa5);
    const t = Date.now() + 20_000;
    for (let i = 0; i < 20_000; i++) {
      const now = t + Math.floor(i / 3000) - (i % 7 === 0 ? 3 : 0);
      if (i % 2 === 0) ids.push(uuidv7(now));
      else {
        const at = i % 11;
        writeUuidv7(buf, at, now);
        expect(buf[at - 1] ?? 0xa5).toBe(0xa5);
        expect(buf[at + 36]).toBe(0xa5);
        ids.push(buf.toString('latin1', at, at + 36));
        buf.fill(0xa5);
      }
    }
    for (const id of ids) expect(id).toMatch(V7);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    const now = Date.parse('2030-01-02T03:04:05.678Z');
    writeUuidv7(buf, 0, now);
    const id = buf.toString('latin1', 0, 36);
    expect(Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toBe(now);
  });
});
