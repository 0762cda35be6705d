/** Subject-state changes through the API (a recorder in place of the SDK) and the current state from a history. */
import type { StoredSubjectStateRow } from '@custos/store';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryRecorder } from './audit.js';
import { currentState } from './subject-state.js';
import { emptyStore, startTestApi, TEST_KEYS, type TestServer } from './testing/index.js';

let api: TestServer;
beforeAll(async () => {
  api = await startTestApi({ store: emptyStore(), recorder: new MemoryRecorder() });
});
afterAll(() => api.close());

const post = (body: unknown, role: keyof typeof TEST_KEYS = 'privacy_officer', subject = 'cust-7') =>
  fetch(`${api.url}/v1/subjects/${subject}/state`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${TEST_KEYS[role].key}`,
      'x-purpose': 'rights.request',
      'content-type': 'application/json',
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

describe('POST /v1/subjects/:id/state', () => {
  it('sends the change and records the request as an update of the subject', async () => {
    const res = await post({ tenantId: 'spera', change: 'erasure_completed', reference: 'DSR-12' });
    expect(res.status).toBe(202);
    const body = (await res.json()) as { eventId: string; occurredAt: string };
    expect(api.recorder.changes.at(-1)).toMatchObject({
      eventId: body.eventId,
      tenantId: 'spera',
      subjectId: 'cust-7',
      change: 'erasure_completed',
      reference: 'DSR-12',
    });
    expect(api.recorder.events.at(-1)).toMatchObject({
      tenantId: 'spera',
      actor: { id: 's-dev' },
      subject: { id: 'cust-7' },
      action: 'update',
      categories: ['audit.trail'],
      purpose: 'rights.request',
      attributes: { route: 'recordSubjectState', change: 'erasure_completed', changeEventId: body.eventId },
    });
  });

  it('sends nothing when the request cannot be recorded', async () => {
    const before = api.recorder.changes.length;
    api.recorder.fail = true;
    try {
      expect((await post({ tenantId: 'spera', change: 'legal_hold_placed' })).status).toBe(503);
    } finally {
      api.recorder.fail = false;
    }
    expect(api.recorder.changes.length).toBe(before);
  });

  it('refuses bad input naming the fields, and nothing is sent', async () => {
    const before = api.recorder.changes.length;
    const bad = await post({ change: 'forget', occurredAt: 5, reference: 'a\u0000b', more: true });
    expect(bad.status).toBe(400);
    const { details } = (await bad.json()) as { details: { field: string }[] };
    expect(details.map((d) => d.field).sort()).toEqual(['change', 'more', 'occurredAt', 'reference', 'tenantId']);
    expect((await post('{not json')).status).toBe(400);
    expect((await post({ tenantId: 'spera', change: 'erasure_completed' }, 'auditor')).status).toBe(403);
    expect(api.recorder.changes.length).toBe(before);
  });
});

describe('POST bodies of any shape', () => {
  it('never answer 5xx', async () => {
    const field = fc.constantFrom('tenantId', 'change', 'occurredAt', 'reference', 'extra', '__proto__', 'constructor');
    const value = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.constantFrom(
        'spera',
        'client-globex',
        'promotional_opt_out',
        'legal_hold_released',
        '2026-10-01T00:00:00Z',
        '9999-99-99',
      ),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.dictionary(field, value, { maxKeys: 6 }), fc.jsonValue({ maxDepth: 2 }), fc.string({ maxLength: 60 })),
        fc.oneof(fc.constant('cust-1'), fc.string({ minLength: 1, maxLength: 20 })),
        async (body, subject) => {
          const res = await post(typeof body === 'string' ? body : JSON.stringify(body), 'admin', encodeURIComponent(subject));
          await res.arrayBuffer();
          expect(res.status, `${JSON.stringify(body)} → ${res.status}`).toBeLessThan(500);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('the current state', () => {
  const row = (change: string, at: string, offset: number): StoredSubjectStateRow => ({
    tenantId: 'spera',
    subjectId: 'cust-1',
    occurredAt: at,
    eventId: `0190a000-0000-7000-8000-${String(offset).padStart(12, '0')}`,
    change,
    reference: null,
    partition: 0,
    offset: String(offset),
    storedAt: at,
  });
  it('is what the rules read: the latest opt-out/opt-in and hold, the first erasure', () => {
    const rows = [
      row('promotional_opt_out', '2026-01-01T00:00:00.000Z', 1),
      row('legal_hold_placed', '2026-02-01T00:00:00.000Z', 2),
      row('promotional_opt_in', '2026-03-01T00:00:00.000Z', 3),
      row('erasure_completed', '2026-04-01T00:00:00.000Z', 4),
    ];
    expect(currentState(rows, new Date('2026-05-01T00:00:00Z'))).toEqual([
      {
        tenantId: 'spera',
        optedOut: false,
        erased: true,
        legalHold: true,
        since: { optedOut: null, erased: '2026-04-01T00:00:00.000Z', legalHold: '2026-02-01T00:00:00.000Z' },
      },
    ]);
    // a change dated after `now` is not in force yet
    expect(currentState(rows, new Date('2026-01-15T00:00:00Z'))[0]).toMatchObject({
      optedOut: true,
      erased: false,
      legalHold: false,
    });
  });
});
