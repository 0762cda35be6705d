/** The API follows the policy-bundles topic (real Kafka): a bundle published there replaces the directory; an invalid one does not. */
import { readFileSync } from 'node:fs';
import { createKafka } from '@custos/kafka';
import { publishBundle } from '@custos/policy/follow';
import { assertInfraReachable, infraEnv, testTopics, waitFor } from '@custos/test/support';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY_FILE } from './app.js';
import { followPolicy } from './policy-follow.js';
import { silentLogger } from './testing/index.js';

describe('following the policy-bundles topic', () => {
  it('applies a valid bundle and keeps the directory on an invalid one', async () => {
    const { brokers, registryUrl } = infraEnv();
    await assertInfraReachable(brokers, registryUrl);
    const topics = testTopics('api-policy');
    const kafka = createKafka({ brokers, clientId: 'api-policy-test', logger: silentLogger() });
    // the follower's error lines: its verdict on an invalid bundle
    const errors: string[] = [];
    const followed = await followPolicy({
      file: DEFAULT_POLICY_FILE,
      logger: pino({ level: 'error' }, { write: (line: string) => void errors.push(line) }),
      kafka,
      topic: topics.policyBundles,
    });
    const producer = kafka.producer();
    await producer.connect();
    try {
      expect(followed.current().staff.get('s-ira')).toBeDefined();
      const b = JSON.parse(readFileSync(DEFAULT_POLICY_FILE, 'utf8')) as { version: string; staff: { id: string }[] };
      b.version = `${b.version}-no-ira`;
      b.staff = b.staff.filter((s) => s.id !== 's-ira');
      await publishBundle(producer, topics.policyBundles.name, JSON.stringify(b));
      await waitFor(() => !followed.current().staff.has('s-ira'), { what: 'the bundle without s-ira' });
      const version = followed.current().policyVersion;
      await publishBundle(producer, topics.policyBundles.name, '{"not":"a bundle"}');
      await waitFor(() => errors.some((l) => l.includes('policy bundle rejected')), { what: 'the invalid bundle rejected' });
      expect(followed.current().policyVersion).toBe(version);
    } finally {
      await producer.disconnect();
      await followed.stop();
    }
  });
});
