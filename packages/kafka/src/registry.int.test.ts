/**
 * Two processes registering the same new subject at once (the enforcer and the SDK of another
 * service, both starting) must both get its id. Apicurio's Confluent API answers the second
 * creator 409 ("A rule named 'COMPATIBILITY' already exists") when the two overlap; registering is
 * idempotent, so AvroCodec retries a 409 a few times (a CI run failed an end-to-end test on it).
 */
import { subjectStateChangeAvro } from '@custos/schemas';
import { infraEnv, uniquePrefix } from '@custos/test/support';
import { describe, expect, it } from 'vitest';
import { AvroCodec } from './registry.js';

describe('AvroCodec.register against the real registry', () => {
  const { registryUrl } = infraEnv();

  it('gives every concurrent registrant of a new subject the same id', async () => {
    const prefix = uniquePrefix('registry-race');
    for (let round = 0; round < 10; round++) {
      const subject = `${prefix}s${round}-value`;
      // separate codecs: no shared cache, as in separate processes
      const codecs = Array.from({ length: 4 }, () => AvroCodec.connect(registryUrl));
      const ids = await Promise.all(codecs.map(async (c) => (await c.register(subject, subjectStateChangeAvro)).id));
      expect(new Set(ids).size).toBe(1);
    }
  });
});
