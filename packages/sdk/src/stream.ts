/**
 * The client's two streams (access events, subject-state changes): each one's topic, registry
 * subject, writer schema with its fingerprint (carried by spool frames) and encoder.
 */

import { encodeAccessEvent } from '@custos/schemas/avro';
import avro from 'avsc';
import { KIND_ACCESS, type Kind } from './frame.js';
import type { AccessEventAvro } from './validate.js';

export interface Stream {
  kind: Kind;
  topic: string;
  subject: string;
  schema: object;
  type: avro.Type;
  /** avsc's `encode(value, buf, pos)` contract: the end, or minus the bytes missing */
  encode: (value: unknown, buf: Buffer, pos: number) => number;
  fingerprint: Buffer;
  fpHex: string;
  /** the registry's id of the schema; 0 until known */
  id: number;
}

export function makeStream(kind: Kind, topic: string, schema: object): Stream {
  const type = avro.Type.forSchema(schema as avro.Schema);
  const fingerprint = type.fingerprint('sha256').subarray(0, 8);
  // access events: the hand-written writer (same bytes, ~2× faster), avsc when it declines
  const encode =
    kind === KIND_ACCESS
      ? (value: unknown, buf: Buffer, pos: number) => {
          const end = encodeAccessEvent(value as AccessEventAvro, buf, pos);
          return end >= 0 ? end : type.encode(value, buf, pos);
        }
      : (value: unknown, buf: Buffer, pos: number) => type.encode(value, buf, pos);
  const fpHex = fingerprint.toString('hex');
  return { kind, topic, subject: `${topic}-value`, schema, type, encode, fingerprint, fpHex, id: 0 };
}
