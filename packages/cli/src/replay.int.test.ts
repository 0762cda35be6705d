/**
 * Replay on a known history stored in real ClickHouse: the reference example events (test/fixtures/spec), judged by the
 * reference bundle and stored; then re-judged under a candidate that takes personal.contact away
 * from support agents.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileBundle, parseBundle, SubjectStateStore, toDecision } from '@custos/policy';
import { parseAccessEvent, parseSubjectStateChange } from '@custos/schemas';
import { appendDecisions, createStore, migrate, type Store, toRow } from '@custos/store';
import { specFixtureDir, specFixtures } from '@custos/test/fixtures';
import { infraEnv, testStore } from '@custos/test/support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replay } from './replay.js';

const ndjson = (f: string) =>
  readFileSync(join(specFixtureDir, f), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
const reference = JSON.parse(readFileSync(specFixtures.bundle, 'utf8'));

function evaluator(bundle: unknown) {
  const r = parseBundle(bundle);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return compileBundle(r.value.bundle, r.value.policyVersion);
}

describe('custos replay', () => {
  let store: Store;
  const state = new SubjectStateStore();

  beforeAll(async () => {
    const { database, chdbPath } = testStore('replay');
    store = createStore({ url: infraEnv().clickhouseUrl, database, chdbPath });
    await migrate(store);
    for (const c of ndjson('subject-state.ndjson')) {
      const p = parseSubjectStateChange(c);
      if (p.ok) state.apply(p.value);
    }
    const prod = evaluator(reference);
    const bulk = prod.createBulkWindow();
    const rows = ndjson('events.ndjson').flatMap((e, i) => {
      const p = parseAccessEvent(e);
      if (!p.ok) return [];
      return [toRow(toDecision(p.value, prod.evaluate(p.value, { subjectState: state, bulk })), 0, String(i))];
    });
    await appendDecisions(store, rows);
  });
  afterAll(async () => {
    await store?.close();
  });

  const window = { from: new Date('2026-01-01T00:00:00Z'), to: new Date('2026-12-31T00:00:00Z') };

  it('finds no change under the same bundle', async () => {
    const r = await replay({ store, ...window, candidate: evaluator(reference), subjectState: state });
    expect(r.replayed).toBe(23);
    expect(r.changedOutcome + r.changedCodesOnly).toBe(0);
  });

  it('shows what taking personal.contact from support agents would change', async () => {
    const candidate = structuredClone(reference);
    candidate.version = 'candidate-1';
    for (const g of candidate.roles.support_agent) {
      g.categories = g.categories.filter((c: string) => c !== 'personal.contact');
    }
    const before = await store.client.query({
      query: `SELECT toString(event_id) AS id, outcome, codes FROM ${store.table('decisions')} ORDER BY id`,
      format: 'JSONEachRow',
    });
    const prodBefore = await before.json();
    const r = await replay({ store, ...window, candidate: evaluator(candidate), subjectState: state, examplesPerTransition: 10 });
    // Asha's read of personal.contact (event 1) and her share to Helpdeskly (event 23).
    expect(r.transitions).toEqual({ 'allow→deny': 2 });
    // Codes change on four decisions: the two above, event 3 (promotional purpose: now no grant at
    // all rather than the wrong purpose) and event 15 (erased subject: now also no grant).
    expect(r.codes).toEqual({ ROLE_NOT_AUTHORIZED: { added: 4, removed: 0 }, PURPOSE_NOT_PERMITTED: { added: 0, removed: 1 } });
    expect(r.byDepartment).toEqual([{ department: 'support', changed: 2 }]);
    expect(
      r.examples
        .filter((e) => e.before.outcome !== e.after.outcome)
        .map((e) => e.eventId)
        .sort(),
    ).toEqual(['00000000-0000-7000-8000-000000000001', '00000000-0000-7000-8000-000000000023']);
    expect(r.changedCodesOnly).toBe(2);
    const after = await store.client.query({
      query: `SELECT toString(event_id) AS id, outcome, codes FROM ${store.table('decisions')} ORDER BY id`,
      format: 'JSONEachRow',
    });
    expect(await after.json()).toEqual(prodBefore);
  });
});
