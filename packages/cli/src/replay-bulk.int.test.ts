/**
 * Replay of a history in which one event of an actor is stamped a year ahead of the rest: the live
 * judgement (the evaluator over the events in arrival order, as the enforcer runs it) still flags
 * the actor's later bulk burst, and replaying the stored decisions under the very bundle that made
 * them reports no change: live and replay count the window the same way.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileBundle, parseBundleText, SubjectStateStore, toDecision } from '@custos/policy';
import { parseAccessEvent } from '@custos/schemas';
import { appendDecisions, createStore, migrate, type Store, toRow } from '@custos/store';
import { infraEnv, testStore } from '@custos/test/support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replay } from './replay.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const T = Date.parse('2026-05-04T09:00:00Z');

function bundle() {
  const r = parseBundleText(readFileSync(join(root, 'policies', 'example-org.json'), 'utf8'));
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return compileBundle(r.value.bundle, r.value.policyVersion);
}

/** 260 reads of distinct customers by one agent, 1 s apart, the 100th stamped a year ahead. */
function history() {
  return Array.from({ length: 260 }, (_, i) => {
    const p = parseAccessEvent({
      eventId: `0190b0a0-0000-7000-8000-${String(i).padStart(12, '0')}`,
      occurredAt: new Date(i === 100 ? T + 365 * 86_400_000 : T + i * 1000).toISOString(),
      tenantId: 'spera',
      actor: { id: 's-asha', type: 'staff' },
      subject: { id: `cust-${i}`, type: 'customer' },
      categories: ['personal.contact'],
      action: 'read',
      purpose: 'service.support',
      source: { service: 'crm' },
    });
    if (!p.ok) throw new Error(JSON.stringify(p.errors));
    return p.value;
  });
}

describe('custos replay with an outlying timestamp in the history', () => {
  let store: Store;
  const state = new SubjectStateStore();
  let flagged: string[] = [];

  beforeAll(async () => {
    const { database, chdbPath } = testStore('replay-bulk');
    store = createStore({ url: infraEnv().clickhouseUrl, database, chdbPath });
    await migrate(store);
    const live = bundle();
    const bulk = live.createBulkWindow();
    const decisions = history().map((e) => toDecision(e, live.evaluate(e, { subjectState: state, bulk })));
    flagged = decisions.filter((d) => d.reasons.some((r) => r.code === 'BULK_ACCESS')).map((d) => d.eventId);
    await appendDecisions(
      store,
      decisions.map((d, i) => toRow(d, 0, String(i))),
    );
  });
  afterAll(async () => {
    await store?.close();
  });

  it('the outlier does not blind BULK_ACCESS for the burst after it', () => {
    // 201 distinct customers are reached by the 202nd in-order event (index 201: the outlier is not
    // in the window); every later one is flagged too
    expect(flagged).toHaveLength(260 - 201);
    expect(flagged[0]).toBe(`0190b0a0-0000-7000-8000-${String(201).padStart(12, '0')}`);
  });

  it('replay under the same bundle reports no change', async () => {
    const r = await replay({
      store,
      from: new Date('2026-01-01T00:00:00Z'),
      to: new Date('2026-12-31T00:00:00Z'),
      candidate: bundle(),
      subjectState: state,
    });
    expect(r.replayed).toBe(259); // the outlier is stamped 2027
    expect(r.changedOutcome + r.changedCodesOnly).toBe(0);
  });
});
