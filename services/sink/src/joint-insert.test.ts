import type { Prepared, RawInsert, Store } from '@custos/store';
import { describe, expect, it } from 'vitest';
import { JointInserter } from './joint-insert.js';

/** A store that records the inserts it is given (the joiner's only use of it). */
function recordingStore(fail = false): Store & { inserts: RawInsert[] } {
  const inserts: RawInsert[] = [];
  return {
    inserts,
    table: (name: string) => `custos.${name}`,
    insertRaw: async (i: RawInsert) => {
      if (fail) throw new Error('store unavailable');
      inserts.push(i);
    },
  } as unknown as Store & { inserts: RawInsert[] };
}

const prepared = (chain: number, rows: number): Prepared =>
  ({
    chain,
    rows: Array.from({ length: rows }, () => ({})),
    body: Buffer.from(`${Array.from({ length: rows }, (_, i) => `[${chain},${i}]`).join('\n')}\n`),
    token: `t${chain}`,
  }) as unknown as Prepared;

describe('JointInserter', () => {
  it('stores the batches registered together by one insert, once the last is prepared', async () => {
    const store = recordingStore();
    const j = new JointInserter(store, { windowMs: 60_000, maxRows: () => 1000 });
    const [a, b, c] = [j.enter(), j.enter(), j.enter()];
    const first = a!.insert(prepared(0, 2));
    const second = b!.insert(prepared(1, 1));
    expect(store.inserts).toHaveLength(0); // c is still being prepared
    c!.leave();
    expect(await Promise.all([first, second])).toEqual([true, true]);
    expect(store.inserts).toHaveLength(1);
    expect(store.inserts[0]!.body.toString()).toBe('[0,0]\n[0,1]\n[1,0]\n');
    expect(store.inserts[0]!.settings?.insert_deduplication_token).toMatch(/^custos-j-[0-9a-f]{32}$/);
    expect(j.stats).toEqual({ inserts: 1, members: 2, failures: 0 });
  });

  it('a batch alone keeps its own de-duplication token', async () => {
    const store = recordingStore();
    const j = new JointInserter(store, { windowMs: 60_000, maxRows: () => 1000 });
    expect(await j.enter().insert(prepared(3, 1))).toBe(true);
    expect(store.inserts[0]!.settings?.insert_deduplication_token).toBe('t3');
  });

  it('waits at most the window for a batch that is held up', async () => {
    const store = recordingStore();
    const j = new JointInserter(store, { windowMs: 20, maxRows: () => 1000 });
    const slow = j.enter();
    const started = performance.now();
    expect(await j.enter().insert(prepared(0, 1))).toBe(true);
    expect(performance.now() - started).toBeGreaterThanOrEqual(15);
    expect(store.inserts).toHaveLength(1);
    slow.leave();
  });

  it('flushes those waiting before a batch that would exceed the most rows per insert', async () => {
    const store = recordingStore();
    const j = new JointInserter(store, { windowMs: 60_000, maxRows: () => 3 });
    const [a, b] = [j.enter(), j.enter()];
    const first = a!.insert(prepared(0, 2));
    const second = b!.insert(prepared(1, 2));
    expect(await Promise.all([first, second])).toEqual([true, true]);
    expect(store.inserts.map((i) => i.body.toString())).toEqual(['[0,0]\n[0,1]\n', '[1,0]\n[1,1]\n']);
  });

  it('a failed joint insert tells every member to store its rows alone', async () => {
    const j = new JointInserter(recordingStore(true), { windowMs: 60_000, maxRows: () => 1000 });
    const [a, b] = [j.enter(), j.enter()];
    expect(await Promise.all([a!.insert(prepared(0, 1)), b!.insert(prepared(1, 1))])).toEqual([false, false]);
    expect(j.stats.failures).toBe(1);
  });

  it('a batch that was alone gets the error of its insert', async () => {
    const j = new JointInserter(recordingStore(true), { windowMs: 60_000, maxRows: () => 1000 });
    await expect(j.enter().insert(prepared(0, 1))).rejects.toThrow('store unavailable');
  });

  it('a ticket joins or leaves once', async () => {
    const store = recordingStore();
    const j = new JointInserter(store, { windowMs: 60_000, maxRows: () => 1000 });
    const t = j.enter();
    t.leave();
    expect(await t.insert(prepared(0, 1))).toBe(false);
    expect(store.inserts).toHaveLength(0);
  });
});
