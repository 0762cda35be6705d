import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { backwardProblem, currentSchemas, evolutionProblems } from './compat.js';
import { AccessEventV1Avro, SubjectStateChangeV1Avro } from './generated.js';

type Rec = { type: 'record'; name: string; fields: { name: string; type: unknown; default?: unknown; aliases?: string[] }[] };
const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;
const access = () => clone(AccessEventV1Avro) as unknown as Rec;

function withField(s: Rec, f: Rec['fields'][number]): Rec {
  s.fields.push(f);
  return s;
}

describe('schema evolution (BACKWARD against every committed snapshot in schemas/history)', () => {
  it('every current schema can read data written with each of its snapshots, and the newest snapshot is current', () => {
    expect(evolutionProblems()).toEqual([]);
  });

  it('a schema without any snapshot is reported', () => {
    const empty = mkdtempSync(join(tmpdir(), 'custos-history-'));
    expect(evolutionProblems(currentSchemas(), empty)[0]).toMatch(/no snapshot/);
  });

  describe('catches incompatible changes', () => {
    const incompatible: [string, () => object][] = [
      ['a new field without a default', () => withField(access(), { name: 'region', type: 'string' })],
      [
        'a removed enum symbol',
        () => {
          const s = access();
          const action = s.fields.find((f) => f.name === 'action')!;
          (action.type as { symbols: string[] }).symbols = ['read', 'create', 'update', 'delete', 'export', 'share'];
          return s;
        },
      ],
      [
        'a changed field type',
        () => {
          const s = access();
          s.fields.find((f) => f.name === 'purpose')!.type = 'int';
          return s;
        },
      ],
      [
        'a narrowed number (long → int)',
        () => {
          const s = access();
          s.fields.find((f) => f.name === 'occurredAt')!.type = 'int';
          return s;
        },
      ],
      [
        'a renamed field without an alias',
        () => {
          const s = access();
          s.fields.find((f) => f.name === 'purpose')!.name = 'why';
          return s;
        },
      ],
      [
        'an optional field made required',
        () => {
          const s = access();
          const f = s.fields.find((x) => x.name === 'legalBasis')!;
          f.type = 'string';
          delete f.default;
          return s;
        },
      ],
      [
        'a union that lost a branch',
        () => {
          const s = access();
          s.fields.find((f) => f.name === 'legalBasis')!.type = ['null', 'int'];
          return s;
        },
      ],
      ['a renamed record', () => ({ ...access(), name: 'AccessRecord' })],
    ];
    it.each(incompatible)('%s', (_name, change) => {
      expect(backwardProblem(change(), AccessEventV1Avro)).toBeDefined();
      // and the suite's check reports it, as it would on a real edit of avro/
      const problems = evolutionProblems([{ key: 'AccessEvent.v1', schema: change() }]);
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/not BACKWARD compatible/);
    });
  });

  describe('accepts compatible changes (then asks for a snapshot)', () => {
    const compatible: [string, () => object][] = [
      ['a new field with a default', () => withField(access(), { name: 'region', type: ['null', 'string'], default: null })],
      ['a removed field', () => ({ ...access(), fields: access().fields.filter((f) => f.name !== 'legalBasis') })],
      [
        'a new enum symbol',
        () => {
          const s = access();
          const action = s.fields.find((f) => f.name === 'action')!;
          (action.type as { symbols: string[] }).symbols.push('print');
          return s;
        },
      ],
      [
        'a widened number (int → long)',
        () => {
          const s = access();
          s.fields.find((f) => f.name === 'recordCount')!.type = 'long';
          return s;
        },
      ],
      [
        'a renamed field with an alias',
        () => {
          const s = access();
          const f = s.fields.find((x) => x.name === 'purpose')!;
          f.name = 'why';
          f.aliases = ['purpose'];
          return s;
        },
      ],
    ];
    it.each(compatible)('%s', (_name, change) => {
      expect(backwardProblem(change(), AccessEventV1Avro)).toBeUndefined();
      expect(evolutionProblems([{ key: 'AccessEvent.v1', schema: change() }])).toEqual([
        expect.stringMatching(/changed since snapshot 1; record it/),
      ]);
    });
    it('a doc-only change needs no snapshot', () => {
      const s = clone(SubjectStateChangeV1Avro) as unknown as Rec & { doc: string };
      s.doc = 'reworded';
      expect(evolutionProblems([{ key: 'SubjectStateChange.v1', schema: s }])).toEqual([]);
    });
  });
});
