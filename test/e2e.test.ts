/**
 * The walking skeleton through real parts, with the services as real processes:
 * SDK record() → Avro via the registry → access-events → enforcer process → decisions →
 * sink+API process (one process: embedded chDB) → ClickHouse → GET /v1/accesses.
 */
import { randomUUID } from 'node:crypto';
import { type AccessEventInput, createAuditClient, uuidv7 } from '@custos/sdk';
import { ProcessPipeline } from '@custos/test/pipeline';
import { waitFor } from '@custos/test/support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const API_KEY = `e2e-${randomUUID()}`;
const auth = { authorization: `Bearer ${API_KEY}`, 'x-purpose': 'security' };

describe('end to end through real processes', () => {
  const pipeline = new ProcessPipeline({
    label: 'e2e',
    apiKeys: [{ id: 'e2e', key: API_KEY, staffId: 's-kavya', role: 'admin', tenants: ['*'] }],
  });
  const { logs } = pipeline;

  beforeAll(() => pipeline.up());
  afterAll(() => pipeline.down());

  it('a recorded access comes back from the API as a decision', async () => {
    const client = createAuditClient(pipeline.clientOptions('e2e-test'));
    const subjectId = `cust-${randomUUID().slice(0, 8)}`;
    const allowedId = uuidv7();
    const deniedId = uuidv7();
    const allowed: AccessEventInput = {
      eventId: allowedId,
      tenantId: 'spera',
      actor: { id: 's-asha', type: 'staff' },
      subject: { id: subjectId, type: 'customer' },
      categories: ['personal.contact'],
      action: 'read',
      purpose: 'service.support',
    };
    const denied: AccessEventInput = {
      eventId: deniedId,
      tenantId: 'spera',
      actor: { id: 's-asha', type: 'staff' },
      subject: { id: subjectId, type: 'customer' },
      categories: ['client.financial'],
      action: 'read',
      purpose: 'service.support',
    };
    client.record(allowed);
    client.record(denied);
    expect(await client.close()).toMatchObject({ delivered: true, unsent: 0 });

    type Item = { eventId: string; outcome: string; reasons: { code: string }[]; actor: { id: string }; policyVersion: string };
    const items = await waitFor(
      async () => {
        const res = await fetch(`${pipeline.apiUrl}/v1/accesses?tenantId=spera&subjectId=${subjectId}`, { headers: auth });
        if (!res.ok) throw new Error(`API answered ${res.status}: ${await res.text()}`);
        const body = (await res.json()) as { items: Item[] };
        return body.items.length >= 2 ? body.items : undefined;
      },
      { what: 'both decisions in the API', timeoutMs: 120_000, everyMs: 500, retryErrors: true, detail: logs },
    );
    const byId = new Map(items.map((i) => [i.eventId, i]));
    expect(byId.get(allowedId)?.outcome).toBe('allow');
    expect(byId.get(deniedId)?.outcome).toBe('deny');
    expect(byId.get(deniedId)?.reasons.map((r) => r.code)).toEqual(['ROLE_NOT_AUTHORIZED']);
    expect(items[0]?.policyVersion).toMatch(/^spera-2026\.11\.1\+sha256:/);
  });
});
