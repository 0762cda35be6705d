/**
 * What the client hands a transport: one batch shape for every way of sending. The client keeps
 * validation, the queue, the spool and back-pressure; a transport only delivers batches to Kafka
 * (transport-inline.ts on the caller's thread, sender-thread.ts on a worker thread of its own).
 */

export interface PackedTopic {
  topic: string;
  /** per message: key start, key length, value start, value length (into the batch's buffer) */
  index: Int32Array;
}

/**
 * A batch: the records' keys and values lie in one shared buffer (frames copied back to back from
 * memory, or read straight from the spool) and an index per topic points at them — no object per
 * record, and the buffer can cross to a worker thread without a copy.
 */
export interface PackedBatch {
  buf: SharedArrayBuffer;
  topics: PackedTopic[];
}

/**
 * Every attempt at one batch carries the same record: a leader election that outlasts kafkajs'
 * retries fails a send after some partitions were appended, and the next attempt must not append
 * them again.
 */
export interface BatchAttempts {
  /** the batch's number, the same for each attempt at it */
  batchNo: number;
  /** parts of the batch Kafka acknowledged in earlier attempts (ordinary messages go in parts: batch-messages.js) */
  parts: number;
  /** partitions (`topic\0partition`) of the next part Kafka acknowledged in earlier attempts; filled by the patched kafkajs */
  acknowledged: Set<string>;
}

export interface Transport {
  /** Makes a producer ready (a fresh one after `disconnect`: a new producer id and sequence numbers). */
  connect(): Promise<void>;
  /** Lets the producer go; never throws. */
  disconnect(): Promise<void>;
  /** Sends a batch; resolves when Kafka acknowledged every record, rejects with what the producer threw. */
  send(batch: PackedBatch, acks: number, timeout: number, attempts: BatchAttempts): Promise<void>;
}
