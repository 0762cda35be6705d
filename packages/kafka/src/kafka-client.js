// @ts-check
/**
 * The one place that builds kafkajs clients, so the client library can be swapped in one place
 * (`createKafka` in client.ts is this function with the package's types). JavaScript, type-checked
 * from its JSDoc, so that the SDK's sender thread can load it without a TypeScript loader.
 */
import { Kafka, logLevel } from 'kafkajs';
import { createKeyPartitioner } from './partitioner.js';

/**
 * A pino-compatible logger: only the level methods are called.
 * @typedef {{ error(obj: object, msg?: string): void; warn(obj: object, msg?: string): void; info(obj: object, msg?: string): void; debug(obj: object, msg?: string): void }} LevelLogger
 */

/**
 * @typedef {object} KafkaOptions
 * @property {string[]} brokers
 * @property {string} clientId
 * @property {LevelLogger} [logger] kafkajs' log lines at warn and above; none without a logger
 * @property {number} [connectionTimeoutMs] how long to wait for a broker connection; keeps "Kafka is down" from hanging
 * @property {import('kafkajs').KafkaConfig['retry']} [retry]
 * @property {boolean} [plainProducers] producers keep kafkajs' own defaults (its DefaultPartitioner):
 *   for a benchmark peer that must be plain kafkajs
 */

/** @type {Record<number, 'error' | 'warn' | 'info' | 'debug'>} */
const levelName = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** kafkajs' own words (producer/index.js) */
export const IDEMPOTENT_RETRIES_NOTICE = 'Limiting retries for the idempotent producer may invalidate EoS guarantees';

/**
 * kafkajs' client whose producers partition keyed messages with `createKeyPartitioner` unless told
 * otherwise: the same partition as kafkajs' default (and Java's) for every key, without its 64-bit
 * `Long` arithmetic (1.1 µs per message in isolation against 0.02; ~0.3 µs of CPU per event
 * in the enforcer bench's pass-through). Every Custos producer (SDK, enforcer, bench peers) gets it from here.
 */
class CustosKafka extends Kafka {
  /**
   * @param {import('kafkajs').ProducerConfig} [config]
   * @returns {import('kafkajs').Producer}
   * @override
   */
  producer(config) {
    return super.producer({ createPartitioner: createKeyPartitioner, ...config });
  }
}

/**
 * @param {KafkaOptions} opts
 * @returns {Kafka}
 */
export function newKafka(opts) {
  // Our producers choose their partitioner (above); the v2 migration notice is noise.
  process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';
  const logger = opts.logger;
  return new (opts.plainProducers ? Kafka : CustosKafka)({
    clientId: opts.clientId,
    brokers: opts.brokers,
    connectionTimeout: opts.connectionTimeoutMs ?? 3000,
    retry: opts.retry ?? { retries: 8, initialRetryTime: 100, maxRetryTime: 5000 },
    logLevel: logger ? logLevel.WARN : logLevel.NOTHING,
    logCreator: () => (entry) => {
      if (!logger) return;
      const { message, ...rest } = entry.log;
      // kafkajs warns once per idempotent producer whose retries are finite (all of ours: the
      // shutdown bound needs them). It does not apply here: a transactional producer's failed send
      // aborts its transaction, and the SDK's failed sends are re-sent from its spool to stores that
      // write idempotently (by event id). Kept, at debug: a demo start logged it ~10 times.
      const level = message === IDEMPOTENT_RETRIES_NOTICE ? 'debug' : (levelName[entry.level] ?? 'info');
      logger[level]({ kafka: entry.namespace, ...rest }, message);
    },
  });
}
