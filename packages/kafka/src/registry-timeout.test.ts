/**
 * A registry that accepts a request and never answers must not stall its caller for good (the
 * registry client has no timeout of its own): AvroCodec gives up after its timeout with a retriable
 * RegistryUnavailableError, so the SDK and the services retry as they do for a registry that is down.
 * The "registry" here is a local HTTP server that never responds: what is tested is the client's
 * bound, not the registry (the integration tests use the real one).
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { subjectStateChangeAvro } from '@custos/schemas';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRetriable, RegistryUnavailableError } from './errors.js';
import { AvroCodec, frame } from './registry.js';

describe('AvroCodec against a registry that never answers', () => {
  const held: ServerResponse[] = [];
  const server = createServer((_req: IncomingMessage, res: ServerResponse) => {
    held.push(res); // never answered
  });
  let url = '';
  beforeAll(async () => {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const res of held) res.destroy();
    server.closeAllConnections();
    server.close();
  });

  it('fails a registration after its timeout, retriably', async () => {
    const codec = AvroCodec.connect(url, { timeoutMs: 300 });
    const t0 = performance.now();
    const err = await codec.register('s-value', subjectStateChangeAvro).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RegistryUnavailableError);
    expect(isRetriable(err)).toBe(true);
    expect((err as Error).message).toContain('did not answer within 300 ms');
    expect(performance.now() - t0).toBeLessThan(5_000);
  });

  it('fails fetching an unknown writer schema after its timeout, retriably', async () => {
    const codec = AvroCodec.connect(url, { timeoutMs: 300 });
    const err = await codec.decode(frame(42, Buffer.from([0]))).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isRetriable(err)).toBe(true);
    expect(String((err as Error).message)).toContain('did not answer within 300 ms');
  });
});
