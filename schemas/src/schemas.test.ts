import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import avro from 'avsc';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generate } from '../scripts/generate.js';
import { fromAvro, toAvro } from './codec.js';
import { parseAccessEvent, parseSubjectStateChange } from './contract.js';
import { AccessEventV1Avro, DecisionV1Avro } from './generated.js';

const here = dirname(fileURLToPath(import.meta.url));
// The reference cases (test/support/fixtures.ts names them; @custos/test depends on this package, so not imported).
const examples = join(here, '..', '..', 'test', 'fixtures', 'spec');

describe('generated types and validators', () => {
  it('match the Avro files (run `pnpm --filter @custos/schemas generate` after editing avro/)', () => {
    expect(readFileSync(join(here, 'generated.ts'), 'utf8')).toBe(generate());
  });
  it('every Avro schema parses with avsc', () => {
    expect(() => avro.Type.forSchema(DecisionV1Avro as unknown as avro.Schema)).not.toThrow();
  });
});

const base = {
  eventId: '00000000-0000-7000-8000-000000000001',
  occurredAt: '2026-03-02T10:00:00Z',
  tenantId: 'spera',
  actor: { id: 's-asha', type: 'staff' },
  subject: { id: 'cust-1001', type: 'customer' },
  categories: ['personal.contact'],
  action: 'read',
  purpose: 'service.support',
  source: { service: 'crm' },
};

describe('access event contract', () => {
  it('accepts the spec examples except the share without recipient', () => {
    const lines = readFileSync(join(examples, 'events.ndjson'), 'utf8').trim().split('\n');
    const invalid = lines.map((l) => parseAccessEvent(JSON.parse(l))).flatMap((r, i) => (r.ok ? [] : [i + 1]));
    expect(invalid).toEqual([19]);
  });
  it('fills defaults and canonicalises times', () => {
    const r = parseAccessEvent({ ...base, occurredAt: '2026-03-02T15:30:00+05:30' });
    expect(r.ok && r.value.recordCount).toBe(1);
    expect(r.ok && r.value.occurredAt).toBe('2026-03-02T10:00:00.000Z');
  });
  it.each([
    ['missing eventId', { ...base, eventId: undefined }, 'eventId'],
    ['bad uuid', { ...base, eventId: 'abc' }, 'eventId'],
    ['unparsable time', { ...base, occurredAt: 'yesterday' }, 'occurredAt'],
    ['impossible date', { ...base, occurredAt: '2026-13-45T00:00:00Z' }, 'occurredAt'],
    ['bad actor type', { ...base, actor: { id: 'x', type: 'robot' } }, 'actor.type'],
    ['empty actor id', { ...base, actor: { id: '', type: 'staff' } }, 'actor.id'],
    ['no categories', { ...base, categories: [] }, 'categories'],
    ['bad action', { ...base, action: 'peek' }, 'action'],
    ['share without recipient', { ...base, action: 'share' }, 'recipient'],
    ['disclose without recipient', { ...base, action: 'disclose' }, 'recipient'],
    ['recordCount 0', { ...base, recordCount: 0 }, 'recordCount'],
    ['recordCount fraction', { ...base, recordCount: 1.5 }, 'recordCount'],
    ['missing source.service', { ...base, source: {} }, 'source.service'],
    ['bad dataCollectedAt', { ...base, dataCollectedAt: 'soon' }, 'dataCollectedAt'],
    ['attributes not strings', { ...base, attributes: { a: 1 } }, 'attributes.a'],
  ])('rejects %s naming the field', (_n, input, path) => {
    const r = parseAccessEvent(input);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors.map((e) => e.path)).toContain(path);
  });
  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(fc.anything(), (x) => {
        parseAccessEvent(x);
        parseSubjectStateChange(x);
      }),
    );
  });
});

describe('codec', () => {
  const type = avro.Type.forSchema(AccessEventV1Avro as unknown as avro.Schema);
  it('round-trips the JSON form through Avro bytes', () => {
    const r = parseAccessEvent({
      ...base,
      action: 'share',
      recipient: { id: 'p-postbird', type: 'processor' },
      dataCollectedAt: '2025-01-01T00:00:00.000Z',
      attributes: { k: 'v' },
      recordCount: 3,
    });
    if (!r.ok) throw new Error('fixture invalid');
    const bytes = type.toBuffer(toAvro(AccessEventV1Avro, r.value));
    expect(fromAvro(AccessEventV1Avro, type.fromBuffer(bytes))).toEqual(r.value);
  });
});
