import type { AddressInfo } from 'node:net';
import { ValidationError } from '@custos/schemas';
import { waitFor } from '@custos/test/support';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditClient } from './client.js';
import { auditAccess } from './express.js';
import type { AccessEventInput } from './validate.js';
import { toAccessEventAvro } from './validate.js';

/** A client that validates like the real one and keeps what it is given. */
function fakeClient(): AuditClient & { events: AccessEventInput[] } {
  const events: AccessEventInput[] = [];
  return {
    events,
    record(e: AccessEventInput) {
      toAccessEventAvro(e, 'svc', Date.now(), () => '0190b0a0-0000-7000-8000-000000000001');
      events.push(e);
    },
  } as unknown as AuditClient & { events: AccessEventInput[] };
}

describe('auditAccess middleware', () => {
  const client = fakeClient();
  const errors: unknown[] = [];
  let base = '';
  let server: ReturnType<express.Express['listen']>;
  beforeAll(async () => {
    const app = express();
    app.use((req, _res, next) => {
      const who = req.get('x-staff');
      if (who) (req as express.Request & { auth?: unknown }).auth = { actor: { id: who, type: 'staff' }, tenantId: 'spera' };
      next();
    });
    const audit = auditAccess({
      client,
      categories: ['personal.contact'],
      purpose: 'service.support',
      subject: (req, res) => (res.locals.customer ? { id: String(req.params.id), type: 'customer' } : null),
      extra: () => ({ fields: ['email'] }),
      onError: (err) => errors.push(err),
    });
    app.get('/customers/:id', audit, (req, res) => {
      if (req.params.id === 'missing') {
        res.status(404).json({});
        return;
      }
      res.locals.customer = true;
      res.json({ id: req.params.id });
    });
    app.delete('/customers/:id', audit, (_req, res) => {
      res.locals.customer = true;
      res.status(204).end();
    });
    app.get(
      '/anonymous/:id',
      auditAccess({
        client,
        categories: ['personal.contact'],
        purpose: 'x',
        subject: (req) => ({ id: String(req.params.id), type: 'user' }),
        onError: (err) => errors.push(err),
      }),
      (_req, res) => {
        res.json({});
      },
    );
    server = app.listen(0);
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.close();
  });

  it('records one event per successful request, after the response, with actor, tenant and request data', async () => {
    const res = await fetch(`${base}/customers/c-7`, {
      headers: {
        'x-staff': 's-asha',
        'x-request-id': 'req-1',
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      },
    });
    expect(res.status).toBe(200);
    await waitFor(() => client.events.length > 0, { what: 'the event recorded when the response finished' });
    expect(client.events).toHaveLength(1);
    expect(client.events[0]).toMatchObject({
      tenantId: 'spera',
      actor: { id: 's-asha', type: 'staff' },
      subject: { id: 'c-7', type: 'customer' },
      categories: ['personal.contact'],
      action: 'read',
      purpose: 'service.support',
      fields: ['email'],
      source: { requestId: 'req-1', traceId: '0af7651916cd43dd8448eb211c80319c' },
    });
    expect(client.events[0]!.occurredAt).toBeInstanceOf(Date);
  });
  it('derives the action from the method, and records nothing for failed requests or when subject() says so', async () => {
    client.events.length = 0;
    await fetch(`${base}/customers/c-8`, { method: 'DELETE', headers: { 'x-staff': 's-asha' } });
    await fetch(`${base}/customers/missing`, { headers: { 'x-staff': 's-asha' } });
    // a request that is recorded, after the others: once its event is there, theirs had their turn
    await fetch(`${base}/customers/c-9`, { headers: { 'x-staff': 's-asha' } });
    await waitFor(() => client.events.some((e) => e.subject.id === 'c-9'), { what: 'the event of the last request' });
    expect(client.events.map((e) => [e.subject.id, e.action])).toEqual([
      ['c-8', 'delete'],
      ['c-9', 'read'],
    ]);
  });
  it('reports an event it cannot record (no actor) through onError, naming the field; the response is unaffected', async () => {
    const res = await fetch(`${base}/anonymous/u-1`);
    expect(res.status).toBe(200);
    await waitFor(() => errors.length > 0, { what: 'the error reported when the response finished' });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(ValidationError);
    expect((errors[0] as ValidationError).errors.map((e) => e.path)).toEqual(expect.arrayContaining(['tenantId', 'actor']));
  });
});
