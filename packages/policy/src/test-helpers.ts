/** Shared by this package's tests (not exported from the package). */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type AccessEvent, parseAccessEvent } from '@custos/schemas';
import { specFixtures } from '@custos/test/fixtures';
import { parseBundleText } from './bundle.js';
import type { PolicyBundle } from './bundle-schema.js';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export function readNdjson(path: string): unknown[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l));
}

export function referenceBundle(): PolicyBundle {
  const r = parseBundleText(readFileSync(specFixtures.bundle, 'utf8'));
  if (!r.ok) throw new Error(`reference bundle invalid: ${JSON.stringify(r.issues)}`);
  return r.value.bundle;
}

let n = 0;
/** A valid event with sensible defaults; throws when the overrides break the contract. */
export function event(overrides: Record<string, unknown>): AccessEvent {
  n++;
  const r = parseAccessEvent({
    eventId: `00000000-0000-7000-8000-${String(n).padStart(12, '0')}`,
    occurredAt: '2026-03-02T10:00:00Z',
    tenantId: 'spera',
    actor: { id: 's-asha', type: 'staff' },
    subject: { id: 'cust-1', type: 'customer' },
    categories: ['personal.contact'],
    action: 'read',
    purpose: 'service.support',
    source: { service: 'test' },
    ...overrides,
  });
  if (!r.ok) throw new Error(`test event invalid: ${JSON.stringify(r.errors)}`);
  return r.value;
}
