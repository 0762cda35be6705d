import { describe, expect, it } from 'vitest';
import { BulkWindow } from './bulk-window.js';
import { NaiveBulkCounter } from './naive.js';

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
  it('forgets entries older than w + lateness behind the reference (the median of the last 15 events) and idle actors', () => {
    const w = new BulkWindow({ windowSeconds: 600, allowedLatenessSeconds: 60 });
    for (let i = 0; i < 1000; i++) w.observe('a', T + i * 1000, 'spera', `s${i}`);
    // reference T + 992 s (median of the last 15), entries after T + 332 s
    expect(w.stats().entries).toBe(667);
    // an actor's reference is set by its first 15 events; one event alone forgets nobody else
    w.observe('b', T + 10_000_000, 'spera', 'x');
    w.sweep();
    expect(w.stats().actors).toBe(2);
    for (let i = 1; i < 15; i++) w.observe('b', T + 10_000_000 + i, 'spera', 'x');
    w.sweep();
    expect(w.stats()).toEqual({ actors: 1, entries: 15 });
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
  it('one event stamped far ahead does not blind the window for a later burst of the same actor', () => {
    const w = new BulkWindow({ windowSeconds: 600 });
    for (let i = 0; i < 50; i++) w.observe('a', T + i * 1000, 'spera', `s${i}`);
    w.observe('a', T + 365 * 86_400_000, 'spera', 'future');
    w.observe('a', T - 365 * 86_400_000, 'spera', 'past');
    let last = 0;
    for (let i = 50; i < 300; i++) last = w.observe('a', T + 50_000 + i * 100, 'spera', `s${i}`);
    // (T + 79.9 s − 600 s, T + 79.9 s]: all 300 subjects
    expect(last).toBe(300);
    // the future event counts for windows that reach it
    expect(w.observe('a', T + 365 * 86_400_000 + 1, 'spera', 'future-2')).toBe(2);
  });
  it("an actor's very first event stamped a year ahead blinds neither its later burst nor other actors", () => {
    const w = new BulkWindow({ windowSeconds: 600 });
    for (let i = 0; i < 300; i++) w.observe('other', T + i * 1000, 'spera', `o${i}`);
    w.observe('a', T + 365 * 86_400_000, 'spera', 'future');
    let last = 0;
    for (let i = 0; i < 250; i++) last = w.observe('a', T + 300_000 + i, 'spera', `s${i}`);
    expect(last).toBe(250);
    w.sweep();
    // (T + 300 s − 600 s, T + 300 s]: the other actor's 300 subjects are all still counted
    expect(w.observe('other', T + 300_000, 'spera', 'o0')).toBe(300);
    expect(w.observe('a', T + 365 * 86_400_000 + 1, 'spera', 'future-2')).toBe(2);
    const restored = BulkWindow.restore(JSON.parse(JSON.stringify(w.snapshot())));
    expect(restored.snapshot()).toEqual(w.snapshot());
  });
  it('a minority of outliers among the recent events changes no answer (against the plain reference)', () => {
    const w = new BulkWindow({ windowSeconds: 600 });
    const naive = new NaiveBulkCounter(600_000);
    for (let i = 0; i < 2000; i++) {
      // every third event stamped a year ahead or behind
      const past = i % 3 === 2 && i % 2 === 0;
      const t = i % 3 === 2 ? T + (past ? -1 : 1) * 365 * 86_400_000 + i : T + i * 1000;
      const got = w.observe('a', t, 'spera', `s${i % 700}`);
      const want = naive.observe('a', t, 'spera', `s${i % 700}`);
      // an event later than the lateness is answered from what is left: it may undercount itself
      if (past) expect(got).toBeLessThanOrEqual(want);
      else expect(got).toBe(want);
    }
  });
  it('caps the count at limit + 1 and answers the same either side of the cap', () => {
    const w = new BulkWindow({ windowSeconds: 600 });
    const v = new BulkWindow({ windowSeconds: 600 });
    for (let i = 0; i < 500; i++) {
      const t = T + ((i * 7919) % 500) * 1000; // out of order
      const exact = w.observe('a', t, 'spera', `s${i % 230}`);
      const capped = v.observe('a', t, 'spera', `s${i % 230}`, 200);
      expect(capped).toBe(Math.min(exact, 201));
    }
  });
});
