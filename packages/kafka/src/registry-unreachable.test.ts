/**
 * A registry nobody answers at: the registry client reports the refused connection as a 400, which
 * must come out as RegistryUnavailableError (retriable), not as a bad request or a decode error (a
 * record would then be dead-lettered, or a starting service give up, for an outage).
 */
import { freePort } from '@custos/test/support';
import { describe, expect, it } from 'vitest';
import { isRetriable, RegistryUnavailableError } from './errors.js';
import { AvroCodec, retryWhileUnavailable } from './registry.js';

describe('a schema registry that cannot be reached', () => {
  it('register and decode fail as RegistryUnavailableError, retriable', async () => {
    // a released port: nothing listens there
    const codec = AvroCodec.connect(`http://127.0.0.1:${await freePort()}/apis/ccompat/v7`, { timeoutMs: 10_000 });
    const err = await codec.register('x-value', { type: 'record', name: 'X', fields: [] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryUnavailableError);
    expect(isRetriable(err)).toBe(true);
    const framed = Buffer.from([0, 0, 0, 0, 7, 0]);
    const decodeErr = await codec.decode(framed).catch((e: unknown) => e);
    expect(decodeErr).toBeInstanceOf(RegistryUnavailableError);
  });

  it('retryWhileUnavailable waits through retriable failures and throws others at once', async () => {
    let calls = 0;
    const warned: string[] = [];
    const logger = { warn: (_o: object, msg?: string) => warned.push(msg ?? '') };
    const value = await retryWhileUnavailable(
      'registering',
      async () => {
        if (++calls < 3) throw new RegistryUnavailableError('down');
        return 42;
      },
      logger,
    );
    expect(value).toBe(42);
    expect(calls).toBe(3);
    expect(warned).toEqual(['registering: schema registry unavailable; retrying']);
    await expect(
      retryWhileUnavailable(
        'registering',
        async () => {
          throw new Error('not retriable');
        },
        logger,
      ),
    ).rejects.toThrow('not retriable');
  });
});
