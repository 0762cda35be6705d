/**
 * The patched kafkajs consumer, restarting after a crash in which it could not leave its group (the
 * broker was away), joins again as the member it was; the coordinator then need not wait out that
 * member's session before the group can rebalance.
 * Runs kafkajs' own consumer against a scripted cluster (no broker).
 */
import { createRequire } from 'node:module';
import { waitFor } from '@custos/test/support';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const createConsumer = require('kafkajs/src/consumer/index.js') as (opts: object) => {
  run(opts: object): Promise<void>;
  on(event: string, listener: (e: { payload: { restart: boolean } }) => void): void;
  events: { CRASH: string };
  stop(): Promise<void>;
};
const { createLogger, LEVELS } = require('kafkajs/src/loggers/index.js') as {
  createLogger: (o: object) => unknown;
  LEVELS: { NOTHING: number };
};
type ErrorClass = new (e: unknown, o?: object) => Error;
const { KafkaJSNumberOfRetriesExceeded, KafkaJSConnectionError } = require('kafkajs/src/errors.js') as {
  KafkaJSNumberOfRetriesExceeded: ErrorClass;
  KafkaJSConnectionError: ErrorClass;
};

/** A cluster whose coordinator lets the first member join, then answers nothing more. */
function scriptedCluster() {
  const joins: string[] = [];
  let stopped = false;
  const coordinator = {
    async joinGroup({ memberId }: { memberId: string }) {
      joins.push(memberId);
      if (joins.length > 1) {
        stopped = true;
        await new Promise(() => {}); // the test has what it needs
      }
      return { generationId: 1, leaderId: 'member-1', memberId: 'member-1', members: [], groupProtocol: 'RoundRobinAssigner' };
    },
    async syncGroup() {
      // the broker goes away between join and sync, past the retries
      throw new KafkaJSNumberOfRetriesExceeded(new KafkaJSConnectionError('Connection error: connect ECONNREFUSED'), {
        retryCount: 5,
        retryTime: 10,
      });
    },
    async leaveGroup() {
      throw new KafkaJSConnectionError('Connection error: connect ECONNREFUSED');
    },
  };
  const cluster = {
    async connect() {},
    async disconnect() {},
    async refreshMetadata() {},
    async refreshMetadataIfNecessary() {},
    async findGroupCoordinator() {
      return coordinator;
    },
    getNodeIds: () => [1],
    removeBroker() {},
  };
  return { cluster, joins, stopped: () => stopped };
}

async function joinsAfterACrash(): Promise<string[]> {
  const s = scriptedCluster();
  const consumer = createConsumer({
    cluster: s.cluster,
    groupId: 'g',
    retry: { retries: 0, initialRetryTime: 10 },
    logger: createLogger({ level: LEVELS.NOTHING, logCreator: () => () => {} }),
  });
  const crashes: boolean[] = [];
  consumer.on(consumer.events.CRASH, (e) => crashes.push(e.payload.restart));
  await consumer.run({ eachBatch: async () => {} });
  await waitFor(() => s.joins.length >= 2, { what: 'the consumer to join again', timeoutMs: 5000, everyMs: 10 });
  expect(crashes[0]).toBe(true);
  return s.joins;
}

describe('a consumer restarting after a crash (kafkajs patch)', () => {
  it('joins as the member it was when it could not leave the group', async () => {
    expect(await joinsAfterACrash()).toEqual(['', 'member-1']);
  });
});
