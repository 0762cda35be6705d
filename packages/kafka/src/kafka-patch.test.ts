/**
 * The probes of kafka-patch.js on the workspace's kafkajs, which pnpm patches: every feature is
 * found. (On stock kafkajs from the registry they are not: test/sdk-install.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { describeKafkajsPatch, kafkajsPatch, releaseBatchMessages } from './kafka-patch.js';

describe('kafkajsPatch', () => {
  it('finds the patch applied in this workspace', async () => {
    const p = await kafkajsPatch();
    expect(p).toEqual({
      version: '2.2.4',
      rangedMessages: true,
      releaseMessages: true,
      movedPartitions: true,
      stableOffsets: true,
    });
    expect(describeKafkajsPatch(p)).toBe('kafkajs 2.2.4 with the Custos patch');
  });
  it('describes stock and partial installs', () => {
    expect(
      describeKafkajsPatch({
        version: '2.2.4',
        rangedMessages: false,
        releaseMessages: false,
        movedPartitions: false,
        stableOffsets: false,
      }),
    ).toMatch(/without the Custos patch/);
    expect(
      describeKafkajsPatch({
        version: '2.2.4',
        rangedMessages: true,
        releaseMessages: false,
        movedPartitions: true,
        stableOffsets: true,
      }),
    ).toMatch(/part of the Custos patch/);
  });
  it('releaseBatchMessages is a no-op on a batch without releaseMessages', () => {
    expect(() => releaseBatchMessages({})).not.toThrow();
    let called = 0;
    releaseBatchMessages({ releaseMessages: () => called++ });
    expect(called).toBe(1);
  });
});
