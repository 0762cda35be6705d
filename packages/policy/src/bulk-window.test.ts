import { describe, expect, it } from 'vitest';
import { BulkWindow } from './bulk-window.js';

const W = 600_000;
const T = Date.parse('2026-03-02T10:00:00Z');

describe('BulkWindow', () => {
  it('counts distinct (tenant, subject) in (t − w, t], the event included', () => {
    const w = new BulkWindow({ windowSeconds: 600 });
    expect(w.observe('a', T - W, 'spera', 's1')).toBe(1);
    expect(w.observe('a', T - W + 1, 'spera', 's2')).toBe(2);
    expect(w.observe('a', T - W + 1, 'spera', 's2')).toBe(2);
    expect(w.observe('a', T - W + 2, 'acme', 's2')).toBe(3);
    expect(w.observe('a', T, 'spera', 's3')).toBe(3); // s1 at exactly t − w is out
    expect(w.observe('b', T, 'spera', 's3')).toBe(1);
  });
  it('answers a late event from the events in its own window', () => {
    const w = new BulkWindow({ windowSeconds: 600 });
    w.observe('a', T, 'spera', 's1');
    w.observe('a', T + 500_000, 'spera', 's2');
    w.observe('a', T + 700_000, 'spera', 's3');
    // late: (T − 450 s, T + 150 s] holds s1 and itself
    expect(w.observe('a', T + 150_000, 'spera', 's4')).toBe(2);
    // the late event is inside (T + 100.001 s, T + 700.001 s] of the next in-order event: s4, s2, s3, s5
    expect(w.observe('a', T + 700_001, 'spera', 's5')).toBe(4);
    // later events never count toward an earlier time
    expect(w.count('a', T + 150_000)).toBe(2);
  });
  it('forgets entries older than w + lateness and idle actors', () => {
    const w = new BulkWindow({ windowSeconds: 600, allowedLatenessSeconds: 60 });
    for (let i = 0; i < 1000; i++) w.observe('a', T + i * 1000, 'spera', `s${i}`);
    expect(w.stats().entries).toBe(660);
    w.observe('b', T + 10_000_000, 'spera', 'x');
    w.sweep();
    expect(w.stats()).toEqual({ actors: 1, entries: 1 });
  });
  it('bounds the entries per actor', () => {
    const w = new BulkWindow({ windowSeconds: 600, maxEntriesPerActor: 10 });
    let last = 0;
    for (let i = 0; i < 50; i++) last = w.observe('a', T + i, 'spera', `s${i}`);
    expect(last).toBe(10);
    expect(w.stats().entries).toBe(10);
  });
  it('restores from a JSON snapshot and then answers exactly as the original', () => {
    const a = new BulkWindow({ windowSeconds: 600 });
    const events: Array<[number, string]> = [];
    for (let i = 0; i < 300; i++) events.push([T + ((i * 7919) % 900) * 1000, `s${i % 120}`]);
    for (const [t, s] of events.slice(0, 200)) a.observe('x', t, 'spera', s);
    const b = BulkWindow.restore(JSON.parse(JSON.stringify(a.snapshot())));
    for (const [t, s] of events.slice(200)) expect(b.observe('x', t, 'spera', s)).toBe(a.observe('x', t, 'spera', s));
    expect(b.snapshot()).toEqual(a.snapshot());
  });
  it('rebuilds the same state by replaying the same events', () => {
    const a = new BulkWindow({ windowSeconds: 600 });
    const b = new BulkWindow({ windowSeconds: 600 });
    const answers = (w: BulkWindow) =>
      Array.from({ length: 100 }, (_, i) => w.observe('x', T + ((i * 31) % 50) * 20_000, 'spera', `s${i % 17}`));
    expect(answers(b)).toEqual(answers(a));
    expect(b.snapshot()).toEqual(a.snapshot());
  });
});
