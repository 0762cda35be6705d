/**
 * The sink's hot path decodes Avro decisions straight into their canonical bytes
 * (`encodeDecisionAvro`): it must give exactly the bytes and hashes of the general path (avsc decode →
 * rowFromAvro → canonical), and leave to it every record it does not handle exactly.
 */

import { AvroCodec } from '@custos/kafka';
import { decisionAvro, toAvro } from '@custos/schemas';
import {
  type AvroDecision,
  type Candidate,
  ContentArena,
  canonical,
  chTimeMs,
  commit,
  decisionLineSupports,
  type EncodedCandidate,
  emptyChain,
  encodeContent,
  encodeDecisionAvro,
  insertLine,
  linkHash,
  prepare,
  rowFromAvro,
  sampleDecisions,
} from '@custos/store';
import { describe, expect, it } from 'vitest';
import { DecisionDecoder } from './decode.js';

// A registry that knows one schema (id 1): avsc's type for Decision v1, as the sink decodes with it.
const codec = new AvroCodec({ register: async () => ({ id: 1 }) } as never, 'local');
const registered = await codec.register('decisions-value', decisionAvro);
const { type } = registered;
const sample = sampleDecisions(400, { start: Date.parse('2026-10-01T00:00:00Z'), spanMs: 3 * 86_400_000 });
const base = toAvro(decisionAvro, sample[0]) as unknown as AvroDecision;

/** Edge cases: escapes, non-ASCII, emoji, invalid UTF-8 is covered below, maps, nulls, odd ids and times. */
const edge: AvroDecision[] = [
  { ...base, policyVersion: 'quote " backslash \\ tab \t nl \n nul \u0000 del \u007f' },
  { ...base, eventId: '0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B' },
  { ...base, eventId: '{0190a1b2c3d47e5f8a9b0c1d2e3f4a5b}' },
  { ...base, eventId: 'not-a-uuid "x"' },
  {
    ...base,
    reasons: [
      { code: 'ROLE_NOT_AUTHORIZED', message: 'Zugriff verweigert für Ärztin — 日本語 😀' },
      { code: 'X', message: '' },
    ],
    basis: ['a', 'b"c', ''],
  },
  {
    ...base,
    event: {
      ...base.event,
      tenantId: 'tenant-ü',
      fields: ['email', 'phone'],
      recipient: { id: 'proc-1', type: 'third_party' },
      legalBasis: 'consent',
      dataCollectedAt: Date.parse('2020-02-29T23:59:59.999Z'),
      recordCount: 2_000_000_000,
      source: { service: 'crm', requestId: null, traceId: 'abc', ip: null },
      attributes: { z: '1', a: '"2"', 10: 'ten', 2: 'two', é: 'e-acute', ['__proto__']: 'ignored by avsc' },
    },
  },
  { ...base, event: { ...base.event, attributes: {} } },
  { ...base, event: { ...base.event, recordCount: -5, actor: { id: 's-1', type: 'processor' }, action: 'disclose' } },
  { ...base, decidedAt: 0, event: { ...base.event, occurredAt: 951_782_400_000 } },
  { ...base, decidedAt: Date.parse('9999-12-31T23:59:59.999Z') },
  { ...base, decidedAt: -1 }, // before 1970: the general path
  { ...base, decidedAt: Date.parse('+010000-01-01T00:00:00.000Z') }, // past 9999: the general path
  { ...base, event: { ...base.event, dataCollectedAt: -86_400_000 } },
];

function general(body: Buffer, partition: number, offset: string): string {
  return encodeContent(rowFromAvro(type.fromBuffer(body) as AvroDecision, partition, offset));
}

describe('Avro → canonical bytes', () => {
  it('is written for the current Decision schema', () => {
    expect(decisionLineSupports(decisionAvro)).toBe(true);
    expect(decisionLineSupports({ ...decisionAvro, fields: decisionAvro.fields.slice(1) })).toBe(false);
  });

  it('gives exactly the general path’s bytes for realistic decisions and edge cases', () => {
    const arena = new ContentArena(4096);
    const values = [...sample.map((d) => toAvro(decisionAvro, d) as unknown as AvroDecision), ...edge];
    let fast = 0;
    values.forEach((v, i) => {
      const body = type.toBuffer(v);
      const framed = Buffer.concat([Buffer.from([0, 0, 0, 0, 1]), body]);
      const enc = encodeDecisionAvro(framed, 5, arena, 3, String(i));
      let expected: string | Error;
      try {
        expected = general(body, 3, String(i));
      } catch (err) {
        expected = err as Error;
      }
      if (enc) {
        fast += 1;
        expect(enc.buf.toString('utf8', enc.start, enc.end)).toBe(expected);
        expect(enc.event_id).toBe(rowFromAvro(v, 3, String(i)).event_id);
        expect(enc.decidedMs).toBe(v.decidedAt);
        expect(enc.occurredMs).toBe(v.event.occurredAt);
      }
    });
    // Everything but the three times outside 1970…9999.
    expect(fast).toBe(values.length - 3);
  });

  it('leaves malformed bytes to the general path', () => {
    const arena = new ContentArena();
    const body = type.toBuffer(toAvro(decisionAvro, sample[1]));
    const framed = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, 0, 1]), b]);
    expect(encodeDecisionAvro(framed(body), 5, arena, 0, '1')).toBeDefined();
    // Truncated at every length, and with trailing data: never a result the general path would not give.
    for (let n = 0; n < body.length; n++)
      expect(encodeDecisionAvro(framed(body.subarray(0, n)), 5, arena, 0, '1')).toBeUndefined();
    expect(encodeDecisionAvro(framed(Buffer.concat([body, Buffer.from([0])])), 5, arena, 0, '1')).toBeUndefined();
    // An enum index out of range (outcome is the third field: after the 36-byte id and the time).
    const bad = Buffer.from(body);
    const outcomeAt = 1 + 36 + 6;
    bad[outcomeAt] = 0x7e;
    expect(encodeDecisionAvro(framed(bad), 5, arena, 0, '1')).toBeUndefined();
    expect(() => general(bad, 0, '1')).toThrow();
  });

  it('keeps invalid UTF-8 as the general path decodes it', () => {
    const arena = new ContentArena();
    const v = { ...base, policyVersion: 'AB' };
    const body = type.toBuffer(v);
    const at = body.indexOf(Buffer.from('AB'));
    body[at] = 0xff; // not UTF-8
    body[at + 1] = 0xed; // a lone lead byte
    const enc = encodeDecisionAvro(Buffer.concat([Buffer.from([0, 0, 0, 0, 1]), body]), 5, arena, 0, '7');
    if (!enc) throw new Error('not encoded');
    expect(enc.buf.toString('utf8', enc.start, enc.end)).toBe(general(body, 0, '7'));
  });

  it('formats times as chTimeMs does', () => {
    const arena = new ContentArena();
    for (let i = 0; i < 2000; i++) {
      const ms = i < 1000 ? Math.floor(Math.random() * 253402300799999) : Date.parse('2024-02-28T23:59:58.000Z') + i * 997;
      const v = { ...base, decidedAt: ms };
      const enc = encodeDecisionAvro(Buffer.concat([Buffer.from([0, 0, 0, 0, 1]), type.toBuffer(v)]), 5, arena, 0, '1');
      const text = enc?.buf.toString('utf8', enc.start, enc.end) ?? '';
      expect(text.split(',')[3]).toBe(`"${chTimeMs(ms)}"`);
    }
  });
});

describe('chaining encoded decisions', () => {
  it('gives the same body, hashes and segment figures as chaining rows', () => {
    const arena = new ContentArena(8192);
    const values = [...sample.map((d) => toAvro(decisionAvro, d) as unknown as AvroDecision), ...edge.slice(0, 10)];
    const rowsC: Candidate[] = [];
    const encC: EncodedCandidate[] = [];
    values.forEach((v, i) => {
      const offset = String(i * 2 + 1);
      const framed = Buffer.concat([Buffer.from([0, 0, 0, 0, 1]), type.toBuffer(v)]);
      const enc = encodeDecisionAvro(framed, 5, arena, 2, offset);
      if (!enc) throw new Error(`record ${i} not encoded`);
      encC.push({ offset, enc });
      rowsC.push({ offset, row: rowFromAvro(v, 2, offset) });
    });
    // Duplicates are skipped alike.
    rowsC.push({ offset: '100001', row: { ...(rowsC[3] as Candidate).row, kafka_offset: '100001' } });
    encC.push({ offset: '100001', enc: { ...(encC[3] as EncodedCandidate).enc, kafka_offset: '100001' } });
    const a = emptyChain(2, 1000, 0);
    const b = emptyChain(2, 1000, 0);
    for (const [from, to] of [
      [0, 1],
      [1, 57],
      [57, rowsC.length],
    ] as const) {
      const pr = prepare(a, rowsC.slice(from, to));
      const pe = prepare(b, encC.slice(from, to));
      expect(pe.body.equals(pr.body)).toBe(true);
      expect(pe.body.toString()).toBe(pr.rows.map((r) => insertLine(canonical(r), r.chain_hash)).join('\n'));
      expect(pe.rows.map((r) => r.chain_hash)).toEqual(pr.rows.map((r) => r.chain_hash));
      expect(pe.skipped).toEqual(pr.skipped);
      expect(pe.token).toBe(pr.token);
      expect(pe.times).toEqual(pr.times);
      commit(a, pr);
      commit(b, pe);
      expect(b.segment).toEqual(a.segment);
      expect(b.hash).toBe(a.hash);
    }
    const first = prepare(emptyChain(2, 10), rowsC.slice(0, 1)).rows[0];
    expect(first?.chain_hash).toBe(linkHash(emptyChain(2, 10).hash, canonical(first!)));
  });
});

describe('DecisionDecoder', () => {
  it('gives the same chain with the straight path on and off, and falls back for other schema ids', async () => {
    const [straight, general] = [true, false].map((on) => new DecisionDecoder(codec, registered, { straight: on }));
    const records = sample.slice(0, 50).map((d, i) => ({ offset: String(i), value: registered.encode(toAvro(decisionAvro, d)) }));
    const bodies = await Promise.all(
      [straight, general].map(async (dec) => {
        const cands = await Promise.all(records.map((m) => dec!.decode(m, 1)));
        expect(cands.every((c) => (dec === straight ? c.enc !== undefined : c.row !== undefined))).toBe(true);
        return prepare(emptyChain(1, 100, 0), cands).body;
      }),
    );
    expect(bodies[0]!.equals(bodies[1]!)).toBe(true);
    // Framed with another id: the registry decides (here: it has no such schema → an error, as before).
    const other = Buffer.from(records[0]!.value);
    other.writeUInt32BE(999, 1);
    await expect(Promise.resolve().then(() => straight!.decode({ offset: '0', value: other }, 1))).rejects.toThrow();
  });
});
