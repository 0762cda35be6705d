/**
 * Subject state for privacy officers, end to end through real processes (enforcer; sink+API with
 * embedded chDB; the CLI): a privacy officer records an opt-out through the API → the enforcer judges
 * a later promotional access by it → the API shows the state and its history from the store, and
 * the request itself is on the audit trail. A security analyst may not record changes; bad input is
 * a 400 naming the fields. An invalid record put straight on the topic lands in subject-state.dlq
 * with its bytes, key and headers. The CLI sends a change and shows the history.
 */
import { randomUUID } from 'node:crypto';
import { AvroCodec, createKafka } from '@custos/kafka';
import { deadLetterAvro, fromAvro, subjectStateChangeAvro, toAvro, topics as topicSpecs } from '@custos/schemas';
import { createAuditClient, uuidv7 } from '@custos/sdk';
import { ProcessPipeline } from '@custos/test/pipeline';
import { waitFor } from '@custos/test/support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const KEYS = {
  officer: `po-${randomUUID()}`,
  acmeOfficer: `po-acme-${randomUUID()}`,
  analyst: `sa-${randomUUID()}`,
  admin: `ad-${randomUUID()}`,
};

interface StateBody {
  subjectId: string;
  current: { tenantId: string; optedOut: boolean; erased: boolean; legalHold: boolean; since: Record<string, string | null> }[];
  history: { eventId: string; tenantId: string; change: string; occurredAt: string; reference: string | null; offset: string }[];
}

interface Letter {
  reason: string;
  step: string;
  service: string;
  sourceTopic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: { key: string; value: Buffer | null }[];
}

describe('subject state through the API, the pipeline and the CLI', () => {
  const pipeline = new ProcessPipeline({
    label: 'subjstate',
    apiKeys: [
      { id: 'po', key: KEYS.officer, staffId: 's-dev', role: 'privacy_officer', tenants: ['*'] },
      { id: 'po-acme', key: KEYS.acmeOfficer, staffId: 's-dev', role: 'privacy_officer', tenants: ['client-acme'] },
      { id: 'sa', key: KEYS.analyst, staffId: 's-kavya', role: 'security_analyst', tenants: ['*'] },
      { id: 'ad', key: KEYS.admin, staffId: 's-kavya', role: 'admin', tenants: ['*'] },
    ],
    enforcerMetrics: true,
    readyTimeoutMs: 120_000,
    keepLogChars: 30_000,
  });
  const { brokers, registryUrl, prefix, logs } = pipeline;
  const topics = topicSpecs({ prefix, partitions: 3 });
  const cli = (args: string[]) => pipeline.cli(args);

  const call = (key: string, path: string, init: { method?: string; body?: unknown; purpose?: string } = {}) =>
    fetch(`${pipeline.apiUrl}${path}`, {
      method: init.method ?? 'GET',
      headers: {
        authorization: `Bearer ${key}`,
        'x-purpose': init.purpose ?? 'rights.request',
        ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });

  const stateOf = async (subjectId: string, query = '?tenantId=spera'): Promise<StateBody> => {
    const res = await call(KEYS.officer, `/v1/subjects/${subjectId}/state${query}`);
    if (!res.ok) throw new Error(`GET state answered ${res.status}: ${await res.text()}`);
    return (await res.json()) as StateBody;
  };

  /** The enforcer's count of subject-state changes applied (its /metrics). */
  const applied = async (): Promise<number> => {
    const text = await (await fetch(`${pipeline.metricsUrl}/metrics`)).text();
    const m = /custos_enforcer_subject_state_changes_total\{result="applied"\} (\d+)/.exec(text);
    return m ? Number(m[1]) : 0;
  };

  beforeAll(() => pipeline.up());
  afterAll(() => pipeline.down());

  it('a privacy officer’s opt-out is enforced on a later access, shown with its history, and audited', async () => {
    const subjectId = `cust-${randomUUID().slice(0, 8)}`;
    const before = await applied();
    const res = await call(KEYS.officer, `/v1/subjects/${subjectId}/state`, {
      method: 'POST',
      body: { tenantId: 'spera', change: 'promotional_opt_out', reference: 'ticket DPO-7' },
    });
    expect(res.status, await res.clone().text()).toBe(202);
    const accepted = (await res.json()) as { eventId: string; occurredAt: string; status: string };
    expect(accepted.status).toBe('accepted');

    // The enforcer has the change before the access is sent: the decision can only reflect it.
    await waitFor(async () => (await applied()) > before, {
      what: 'the enforcer to apply the change',
      timeoutMs: 60_000,
      detail: logs,
    });
    const client = createAuditClient(pipeline.clientOptions('subject-state-test'));
    const eventId = uuidv7();
    client.record({
      eventId,
      tenantId: 'spera',
      actor: { id: 's-priya', type: 'staff' },
      subject: { id: subjectId, type: 'customer' },
      categories: ['personal.contact'],
      action: 'read',
      purpose: 'communication.promotional',
    });
    expect(await client.close()).toMatchObject({ delivered: true, unsent: 0 });

    type Item = {
      eventId: string;
      outcome: string;
      action: string;
      categories: string[];
      actor: { id: string };
      reasons: { code: string }[];
    };
    const items = await waitFor(
      async () => {
        const r = await call(KEYS.admin, `/v1/accesses?tenantId=spera&subjectId=${subjectId}`, { purpose: 'legal.compliance' });
        if (!r.ok) throw new Error(`API answered ${r.status}: ${await r.text()}`);
        const body = (await r.json()) as { items: Item[] };
        const ids = new Set(body.items.map((i) => i.eventId));
        return ids.has(eventId) && body.items.some((i) => i.action === 'update') ? body.items : undefined;
      },
      {
        what: 'the access and the audit record of the change',
        timeoutMs: 120_000,
        everyMs: 500,
        retryErrors: true,
        detail: logs,
      },
    );
    const decision = items.find((i) => i.eventId === eventId);
    expect(decision?.outcome).toBe('deny');
    expect(decision?.reasons.map((r) => r.code)).toContain('PROMOTIONAL_OPT_OUT');
    // The POST itself is on the audit trail: the privacy officer updated this subject's state.
    const audit = items.find((i) => i.action === 'update');
    expect(audit).toMatchObject({ actor: { id: 's-dev' }, categories: ['audit.trail'] });

    const state = await waitFor(
      async () => {
        const s = await stateOf(subjectId);
        return s.history.length >= 1 ? s : undefined;
      },
      { what: 'the change in the stored history', timeoutMs: 60_000, everyMs: 300, retryErrors: true, detail: logs },
    );
    expect(state.current).toEqual([
      expect.objectContaining({ tenantId: 'spera', optedOut: true, erased: false, legalHold: false }),
    ]);
    expect(state.history).toEqual([
      expect.objectContaining({ eventId: accepted.eventId, change: 'promotional_opt_out', reference: 'ticket DPO-7' }),
    ]);

    // An opt-in reverses it: compaction keeps only the opt-in on the topic, the history keeps both.
    const optIn = await call(KEYS.officer, `/v1/subjects/${subjectId}/state`, {
      method: 'POST',
      body: { tenantId: 'spera', change: 'promotional_opt_in' },
    });
    expect(optIn.status).toBe(202);
    const after = await waitFor(
      async () => {
        const s = await stateOf(subjectId);
        return s.history.length >= 2 ? s : undefined;
      },
      { what: 'the opt-in in the stored history', timeoutMs: 60_000, everyMs: 300, retryErrors: true, detail: logs },
    );
    expect(after.history.map((h) => h.change)).toEqual(['promotional_opt_out', 'promotional_opt_in']);
    expect(after.current[0]).toMatchObject({ optedOut: false });
  });

  it('refuses changes from roles and tenants that may not make them, and bad input naming the fields', async () => {
    const body = { tenantId: 'spera', change: 'erasure_completed' };
    const analyst = await call(KEYS.analyst, '/v1/subjects/cust-x/state', { method: 'POST', body, purpose: 'security' });
    expect(analyst.status).toBe(403);
    expect((await call(KEYS.analyst, '/v1/subjects/cust-x/state', { purpose: 'security' })).status).toBe(403);
    const otherTenant = await call(KEYS.acmeOfficer, '/v1/subjects/cust-x/state', { method: 'POST', body });
    expect(otherTenant.status).toBe(403);
    const bad = await call(KEYS.officer, '/v1/subjects/cust-x/state', {
      method: 'POST',
      body: { tenantId: '', change: 'forget_me', occurredAt: 'yesterday', extra: 1 },
    });
    expect(bad.status).toBe(400);
    const fields = ((await bad.json()) as { details: { field: string }[] }).details.map((d) => d.field).sort();
    expect(fields).toEqual(['change', 'extra', 'occurredAt', 'tenantId']);
    const future = await call(KEYS.officer, '/v1/subjects/cust-x/state', {
      method: 'POST',
      body: { ...body, occurredAt: new Date(Date.now() + 86_400_000).toISOString() },
    });
    expect(future.status).toBe(400);
    expect(((await future.json()) as { details: { field: string }[] }).details[0]?.field).toBe('occurredAt');
  });

  it('an invalid record put straight on the topic lands in subject-state.dlq with its bytes, key and headers', async () => {
    const kafka = createKafka({ brokers, clientId: `${prefix}test` });
    const codec = AvroCodec.connect(registryUrl);
    const schema = await codec.register(topics.subjectState.subject, subjectStateChangeAvro);
    const blankTenant = schema.encode(
      toAvro(subjectStateChangeAvro, {
        eventId: uuidv7(),
        occurredAt: new Date().toISOString(),
        tenantId: '',
        subjectId: 'cust-blank-tenant',
        change: 'erasure_completed',
      }),
    );
    const garbage = Buffer.from('not avro at all');
    const producer = kafka.producer();
    await producer.connect();
    const sent = await producer.send({
      topic: topics.subjectState.name,
      messages: [
        { key: 'k-blank', value: blankTenant, headers: { origin: 'elsewhere' } },
        { key: 'k-garbage', value: garbage },
      ],
    });
    await producer.disconnect();
    const base = BigInt(sent[0]?.baseOffset ?? '0');

    const letters: Letter[] = [];
    const consumer = kafka.consumer({ groupId: `${prefix}dlq-reader-${randomUUID()}` });
    await consumer.connect();
    await consumer.subscribe({ topic: topics.subjectStateDlq.name, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        letters.push(fromAvro(deadLetterAvro, (await codec.decode(message.value)).value) as Letter);
      },
    });
    try {
      // One letter each from the sink's history consumer and the enforcer (which follows the topic live).
      await waitFor(() => letters.filter((l) => BigInt(l.offset) >= base).length >= 4, {
        what: 'both records dead-lettered by the sink and the enforcer',
        timeoutMs: 60_000,
        detail: () => `${JSON.stringify(letters.map((l) => [l.service, l.step, l.offset]))}\n${logs()}`,
      });
    } finally {
      await consumer.disconnect();
    }
    for (const service of ['sink', 'enforcer']) {
      const mine = letters.filter((l) => l.service === service && BigInt(l.offset) >= base);
      const blank = mine.find((l) => l.offset === base.toString());
      expect(blank, service).toBeDefined();
      expect(blank?.reason).toMatch(/tenantId/);
      expect(blank?.step).toMatch(/validate/);
      expect(blank?.sourceTopic).toBe(topics.subjectState.name);
      expect(blank?.partition).toBe(0);
      expect(Buffer.from(blank?.value ?? []).equals(blankTenant)).toBe(true);
      expect(Buffer.from(blank?.key ?? []).toString()).toBe('k-blank');
      expect(blank?.headers.map((h) => [h.key, Buffer.from(h.value ?? []).toString()])).toEqual([['origin', 'elsewhere']]);
      const bad = mine.find((l) => l.offset === (base + 1n).toString());
      expect(bad?.step).toMatch(/decode/);
      expect(Buffer.from(bad?.value ?? []).equals(garbage)).toBe(true);
    }
    // Nothing of them reached the history.
    expect((await stateOf('cust-blank-tenant', '')).history).toEqual([]);
  });

  it('custos subject state add and show: a round trip, and bad input refused with a message', async () => {
    const subjectId = `cust-${randomUUID().slice(0, 8)}`;
    const badKind = await cli(['subject', 'state', 'add', subjectId, '--tenant', 'spera', '--kind', 'forget']);
    expect(badKind.code).toBe(2);
    expect(badKind.err).toMatch(/--kind must be one of optout, optin, erasure, legal-hold, legal-hold-release/);
    const noTenant = await cli(['subject', 'state', 'add', subjectId, '--kind', 'erasure']);
    expect(noTenant.code).toBe(2);
    expect(noTenant.err).toMatch(/--tenant is required/);

    const add = await cli([
      'subject',
      'state',
      'add',
      subjectId,
      '--tenant',
      'spera',
      '--kind',
      'legal-hold',
      '--reason',
      'court order 12',
      '--json',
    ]);
    expect(add.code, add.err).toBe(0);
    const sent = JSON.parse(add.out) as { eventId: string; change: string };
    expect(sent.change).toBe('legal_hold_placed');
    await waitFor(async () => (await stateOf(subjectId)).history.length === 1, {
      what: 'the CLI’s change in the stored history',
      timeoutMs: 60_000,
      everyMs: 300,
      retryErrors: true,
      detail: logs,
    });

    // `show` reads the store itself: chDB binds its directory to one process, so the sink+API stops first.
    await pipeline.stop('sink+api');
    const show = await cli(['subject', 'state', 'show', subjectId, '--tenant', 'spera', '--json']);
    expect(show.code, show.err).toBe(0);
    const state = JSON.parse(show.out) as StateBody;
    expect(state.current).toEqual([expect.objectContaining({ tenantId: 'spera', legalHold: true, erased: false })]);
    expect(state.history).toEqual([
      expect.objectContaining({ eventId: sent.eventId, change: 'legal_hold_placed', reference: 'court order 12' }),
    ]);
    const text = await cli(['subject', 'state', 'show', subjectId]);
    expect(text.code, text.err).toBe(0);
    expect(text.out).toMatch(new RegExp(`^spera/${subjectId}: legalHold since `, 'm'));
    const blank = await cli(['subject', 'state', 'show', ' ']);
    expect(blank.code).toBe(2);
    expect(blank.err).toMatch(/must not be blank/);
  });
});
