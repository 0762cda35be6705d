/** The OpenAPI 3.1 document, generated from the route table's zod schemas (zod 4's toJSONSchema). */
import { z } from 'zod';
import { ROUTES } from './routes.js';
import { errorBody, principalInfo } from './schemas.js';

type Json = Record<string, unknown>;

const jsonSchema = (schema: z.ZodType, io: 'input' | 'output'): Json => {
  const { $schema: _s, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as Json;
  return rest;
};

const errorRef = { $ref: '#/components/schemas/Error' };
const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: errorRef } } });

const purposeHeader = {
  name: 'X-Purpose',
  in: 'header',
  required: false,
  description:
    'Why the audit data is read: a purpose of the policy bundle (e.g. `security`, `legal.compliance`, `rights.request`). Required, here or as the `requestPurpose` query parameter; the read is recorded with it as an access event.',
  schema: { type: 'string' },
};

export function openApiDocument(version = '1.0.0'): Json {
  const paths: Record<string, Json> = {};
  const schemas: Record<string, Json> = { Error: jsonSchema(errorBody, 'output'), Me: jsonSchema(principalInfo, 'output') };
  for (const r of ROUTES) {
    const oaPath = r.path.replace(/:(\w+)/g, '{$1}');
    const q = jsonSchema(r.query, 'input') as { properties?: Record<string, Json>; required?: string[] };
    const parameters: Json[] = [];
    if (r.params) {
      const p = jsonSchema(r.params, 'input') as { properties?: Record<string, Json> };
      for (const [name, schema] of Object.entries(p.properties ?? {}))
        parameters.push({ name, in: 'path', required: true, schema });
    }
    for (const [name, schema] of Object.entries(q.properties ?? {})) {
      const { description, ...rest } = schema;
      parameters.push({
        name,
        in: 'query',
        required: (q.required ?? []).includes(name),
        ...(description ? { description } : {}),
        schema: rest,
      });
    }
    if (r.audited) parameters.push(purposeHeader);
    const name = r.id.charAt(0).toUpperCase() + r.id.slice(1);
    schemas[name] = jsonSchema(r.response, 'output');
    const content: Json = { 'application/json': { schema: { $ref: `#/components/schemas/${name}` } } };
    if (r.files) {
      content['text/csv'] = {
        schema: { type: 'string', description: 'sectioned CSV: `# title` lines, then a header row and rows per section' },
      };
      content['application/pdf'] = { schema: { type: 'string', format: 'binary' } };
    }
    const method = r.method ?? 'get';
    const requestBody = r.body
      ? { required: true, content: { 'application/json': { schema: jsonSchema(r.body, 'input') } } }
      : undefined;
    paths[oaPath] = {
      ...paths[oaPath],
      [method]: {
        operationId: r.id,
        summary: r.summary,
        ...(r.description ? { description: r.description } : {}),
        'x-roles': r.roles,
        security: [{ bearer: [] }, { apiKey: [] }],
        parameters,
        ...(requestBody ? { requestBody } : {}),
        responses: {
          ...(method === 'post' ? { 202: { description: 'Accepted', content } } : { 200: { description: 'OK', content } }),
          400: errorResponse('invalid input: `details` names each field'),
          401: errorResponse('no credential, or an invalid or expired one'),
          403: errorResponse('the credential’s role may not call this route, or the tenant is outside its scope'),
          422: errorResponse('the result would be too large; narrow the range'),
          ...(r.heavy
            ? {
                429: errorResponse(
                  'rate limited, or this credential already has as many report or verification requests in progress as it may (Retry-After)',
                ),
                503: errorResponse(
                  'the service has too many report or verification requests in progress (Retry-After), the audit record could not be written, or the query timed out',
                ),
                504: errorResponse('not finished within the deadline for reports and verifications'),
              }
            : {
                429: errorResponse('rate limited'),
                503: errorResponse('the audit record could not be written, or the query timed out'),
              }),
        },
      },
    };
  }
  paths['/v1/me'] = {
    get: {
      operationId: 'me',
      summary: 'The credential’s staff member, role, tenant scope, allowed routes, and the bundle’s purposes',
      security: [{ bearer: [] }, { apiKey: [] }],
      responses: {
        200: { description: 'OK', content: { 'application/json': { schema: { $ref: '#/components/schemas/Me' } } } },
        401: errorResponse('no credential, or an invalid or expired one'),
      },
    },
  };
  for (const [p, summary] of [
    ['/healthz', 'liveness'],
    ['/readyz', 'readiness (503 until the store is ready)'],
    ['/v1/openapi.json', 'this document'],
  ] as const) {
    paths[p] = { get: { operationId: p.replace(/\W/g, '_'), summary, security: [], responses: { 200: { description: 'OK' } } } };
  }
  paths['/metrics'] = {
    get: {
      operationId: '_metrics',
      summary: 'Prometheus metrics (any valid credential; without one, API_METRICS_PORT serves them on 127.0.0.1)',
      security: [{ bearer: [] }, { apiKey: [] }],
      responses: { 200: { description: 'OK' }, 401: errorResponse('no credential, or an invalid one') },
    },
  };
  return {
    openapi: '3.1.0',
    info: {
      title: 'Custos query API',
      version,
      description:
        'Read the audit trail of access to personal data. Every route under /v1 (but this document and /v1/me) reads audit data: it needs a stated purpose and is itself recorded as an access event (category audit.trail).',
    },
    servers: [{ url: '/' }],
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'an API key or a JWT (claims: sub = staff id, role, tenants)' },
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
      },
      schemas,
    },
    paths,
  };
}
