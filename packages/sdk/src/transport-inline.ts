/**
 * The Kafka producer on the caller's thread: used when the caller hands the client a `kafka`
 * instance (it cannot cross threads) or turns the sender thread off.
 */
import type { Kafka, Producer } from '@custos/kafka';
import { BatchMessages, rangedMessages, sendInParts, sendParts } from './batch-messages.js';
import type { LoggerLike } from './logger.js';
import { producerConfig } from './producer-config.js';
import type { BatchAttempts, PackedBatch, Transport } from './transport.js';

export class InlineTransport implements Transport {
  private producer: Producer | undefined;
  private readonly messages: BatchMessages;
  /** ranged messages need the patched kafkajs of the very client that sends them */
  private ranged: Promise<boolean> | undefined;

  /**
   * @param plainMessages send ordinary messages: always when the Kafka instance is the caller's own,
   *   whose kafkajs may not be the one the SDK's probe examined
   */
  constructor(
    private readonly kafka: Kafka,
    private readonly logger: LoggerLike,
    private readonly plainMessages: boolean,
    batchMaxBytes: number,
  ) {
    this.messages = new BatchMessages(2 * batchMaxBytes);
  }

  async connect(): Promise<void> {
    if (this.producer !== undefined) return;
    this.ranged ??= rangedMessages(this.plainMessages, (obj, msg) => this.logger.info(obj, msg));
    // kept only once connected: the next attempt after a failed connect makes a new producer
    const p = this.kafka.producer(producerConfig());
    try {
      await p.connect();
    } catch (err) {
      await p.disconnect().catch(() => {});
      throw err;
    }
    this.producer = p;
  }

  async disconnect(): Promise<void> {
    const p = this.producer;
    this.producer = undefined;
    // A fresh producer gets a fresh producer id and sequence numbers.
    if (p !== undefined) await p.disconnect().catch(() => {});
  }

  async send(batch: PackedBatch, acks: number, timeout: number, attempts: BatchAttempts): Promise<void> {
    if (this.producer === undefined) await this.connect();
    const ranged = await this.ranged!;
    const parts = sendParts(this.messages.build(batch, ranged), ranged);
    try {
      await sendInParts(this.producer!, parts, acks, timeout, attempts);
    } finally {
      this.messages.release();
    }
  }
}
