/**
 * Policy hot reload. A new bundle takes effect without a restart when it is
 *  - published to the compacted `policy-bundles` topic (value: the bundle's JSON text, UTF-8; any
 *    key; read in full by every instance like a global table, so the latest valid record wins), or
 *  - written to the bundle file the judge was loaded from (watched; editors that replace the file
 *    are handled by watching its directory).
 * Whichever arrives last applies. At start-up the file is loaded first, then the topic is read to
 * its end, so a valid bundle on the topic overrides the local file for the whole fleet.
 *
 * A bundle that does not validate is rejected: logged with every issue, counted in
 * custos_enforcer_policy_reloads_total{result="rejected"}, kept in `lastRejection`, and, when it
 * arrived on the topic while running, dead-lettered with its bytes and where it came from. The
 * policy judging stays the one before. Events judged from then on carry the new policyVersion; a
 * batch being judged when a bundle arrives finishes under the version it started with.
 *
 * The enforcer's judge and the API's staff directory both follow the bundle this way. A subpath
 * (`@custos/policy/follow`) of its own, so that the policy engine alone does not load a Kafka client.
 */
import { type FSWatcher, readFileSync, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { FailedRecord, Kafka, KafkaMessage, Producer, TableReader } from '@custos/kafka';
import { ensureTopics, readTable, type TopicToCreate } from '@custos/kafka';
import { loadBundle, parseBundleText } from './bundle.js';
import type { BundleIssue } from './errors.js';
import { compileBundle, type Evaluator } from './evaluator.js';

/** The levels of a pino logger this module calls. */
export interface FollowLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** What holds the current policy and takes a new one (the enforcer's judge, the API's directory). */
export interface PolicyHolder {
  readonly policyVersion: string;
  /** Swaps in `evaluator`; false when it has the version already. */
  replace(evaluator: Evaluator): boolean;
}

/** The reload counters (the enforcer's metrics); optional. */
export interface ReloadMetrics {
  policyReloads: { inc(labels: { source: PolicySourceKind; result: 'applied' | 'unchanged' | 'rejected' }): void };
  setPolicyVersion(version: string): void;
}

export type PolicySourceKind = 'file' | 'topic';

export interface PolicyRejection {
  source: PolicySourceKind;
  at: string;
  reason: string;
  issues: BundleIssue[];
  /** topic records: partition/offset */
  position?: string;
}

export interface PolicyReloaderOptions {
  judge: PolicyHolder;
  logger: FollowLogger;
  kafka?: Kafka;
  /** the policy-bundles topic; omit to not follow one */
  topic?: string;
  /** the bundle file to watch; omit to not watch */
  file?: string;
  metrics?: ReloadMetrics;
  /** dead-letters a topic record that was rejected while running */
  deadLetter?: (record: FailedRecord, step: string, err: Error) => Promise<void>;
  groupPrefix?: string;
  debounceMs?: number;
}

export type OfferResult =
  | { result: 'applied' | 'unchanged'; version: string }
  | { result: 'rejected'; rejection: PolicyRejection };

export class PolicyReloader {
  lastRejection?: PolicyRejection;
  private table?: TableReader;
  private watcher?: FSWatcher;
  private timer?: NodeJS.Timeout;
  private fileText?: string;
  private live = false;
  private reading: Promise<void> = Promise.resolve();

  constructor(private readonly opts: PolicyReloaderOptions) {}

  async start(): Promise<void> {
    const { kafka, topic, file } = this.opts;
    if (file !== undefined) {
      try {
        this.fileText = readFileSync(file, 'utf8');
      } catch {
        // The judge loaded it a moment ago; if it has gone since, the next write shows up as a change.
      }
    }
    if (kafka !== undefined && topic !== undefined) {
      this.table = await readTable(kafka, topic, (m, partition) => this.onRecord(topic, partition, m), {
        groupPrefix: this.opts.groupPrefix ?? 'custos-enforcer-policy',
      });
      await this.table.caughtUp;
    }
    this.live = true;
    this.opts.metrics?.setPolicyVersion(this.opts.judge.policyVersion);
    if (file !== undefined) this.watchFile(file);
  }

  async stop(): Promise<void> {
    this.live = false;
    if (this.timer) clearTimeout(this.timer);
    this.watcher?.close();
    await this.reading;
    await this.table?.stop();
  }

  /** Validates and applies a bundle's text; the current policy stays on any problem. */
  offer(text: string, source: PolicySourceKind, position?: string): OfferResult {
    const { judge, logger, metrics } = this.opts;
    const parsed = parseBundleText(text);
    let rejection: PolicyRejection | undefined;
    if (!parsed.ok) {
      rejection = { source, at: new Date().toISOString(), reason: 'bundle does not validate', issues: parsed.issues };
    } else {
      try {
        const evaluator = compileBundle(parsed.value.bundle, parsed.value.policyVersion);
        const changed = judge.replace(evaluator);
        const result = changed ? 'applied' : 'unchanged';
        metrics?.policyReloads.inc({ source, result });
        if (changed) {
          metrics?.setPolicyVersion(judge.policyVersion);
          logger.info({ source, position, policyVersion: judge.policyVersion }, 'policy bundle applied');
        }
        return { result, version: judge.policyVersion };
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        rejection = {
          source,
          at: new Date().toISOString(),
          reason: 'bundle does not compile',
          issues: [{ path: '', message: reason }],
        };
      }
    }
    if (position !== undefined) rejection.position = position;
    this.lastRejection = rejection;
    metrics?.policyReloads.inc({ source, result: 'rejected' });
    logger.error(
      { source, position, issues: rejection.issues, keeping: judge.policyVersion },
      `policy bundle rejected (${rejection.reason}); keeping ${judge.policyVersion}`,
    );
    return { result: 'rejected', rejection };
  }

  private async onRecord(topic: string, partition: number, m: KafkaMessage): Promise<void> {
    const position = `${topic}/${partition}/${m.offset}`;
    if (m.value === null) {
      this.opts.logger.info({ position }, 'policy-bundles tombstone ignored; the current policy stays');
      return;
    }
    const r = this.offer(m.value.toString('utf8'), 'topic', position);
    if (r.result !== 'rejected' || !this.live || this.opts.deadLetter === undefined) return;
    const err = new Error(
      `${r.rejection.reason}: ${r.rejection.issues.map((i) => `${i.path || '(bundle)'}: ${i.message}`).join('; ')}`,
    );
    err.name = 'BundleError';
    try {
      await this.opts.deadLetter(
        { topic, partition, offset: m.offset, key: m.key, value: m.value, headers: m.headers },
        'policy-validate',
        err,
      );
    } catch (dlqErr) {
      this.opts.logger.error({ err: dlqErr, position }, 'could not dead-letter the rejected policy bundle');
    }
  }

  private watchFile(file: string): void {
    const name = basename(file);
    try {
      this.watcher = watch(dirname(file), { persistent: false }, (_event, changed) => {
        if (changed !== null && changed !== name) return;
        if (this.timer) clearTimeout(this.timer);
        this.timer = setTimeout(() => {
          this.reading = this.reading.then(() => this.readFileNow(file));
        }, this.opts.debounceMs ?? 150);
        this.timer.unref();
      });
      this.watcher.on('error', (err) => this.opts.logger.error({ err, file }, 'policy file watch failed; file reload is off'));
    } catch (err) {
      this.opts.logger.error({ err, file }, 'cannot watch the policy file; file reload is off');
    }
  }

  private async readFileNow(file: string): Promise<void> {
    if (!this.live) return;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      // Removed or being replaced: the policy stays; a later write shows up as another change.
      this.opts.logger.warn({ err, file }, 'policy file unreadable; the current policy stays');
      return;
    }
    if (text === this.fileText) return;
    this.fileText = text;
    this.offer(text, 'file', file);
  }
}

/** Publishes a bundle's JSON text to the policy-bundles topic (what every enforcer follows). */
export async function publishBundle(producer: Producer, topic: string, text: string, key = 'policy'): Promise<void> {
  await producer.send({ topic, messages: [{ key, value: Buffer.from(text, 'utf8') }] });
}

/** The current policy, kept up to date from the bundle file and the policy-bundles topic. */
export interface FollowedPolicy {
  current(): Evaluator;
  /** Calls `listener` with every policy that replaces the current one. */
  onReplace(listener: (evaluator: Evaluator) => void): void;
  stop(): Promise<void>;
}

/**
 * Loads the bundle file and follows it and (with `kafka` and `topic`) the policy-bundles topic, as
 * the enforcer does: for a service that needs the policy's content (the API's staff directory).
 */
export async function followPolicy(opts: {
  file: string;
  logger: FollowLogger;
  kafka?: Kafka | undefined;
  topic?: TopicToCreate | undefined;
  groupPrefix?: string;
  debounceMs?: number;
}): Promise<FollowedPolicy> {
  const loaded = await loadBundle(opts.file);
  let evaluator = compileBundle(loaded.bundle, loaded.policyVersion);
  const listeners: ((e: Evaluator) => void)[] = [];
  const holder: PolicyHolder = {
    get policyVersion() {
      return evaluator.policyVersion;
    },
    replace(next) {
      if (next.policyVersion === evaluator.policyVersion) return false;
      evaluator = next;
      for (const l of listeners) l(next);
      return true;
    },
  };
  if (opts.kafka && opts.topic) {
    // a follower may start before any enforcer has created the topic
    const admin = opts.kafka.admin();
    await admin.connect();
    try {
      await ensureTopics(admin, [opts.topic]);
    } finally {
      await admin.disconnect();
    }
  }
  const reloader = new PolicyReloader({
    judge: holder,
    logger: opts.logger,
    file: opts.file,
    ...(opts.groupPrefix !== undefined ? { groupPrefix: opts.groupPrefix } : {}),
    ...(opts.debounceMs !== undefined ? { debounceMs: opts.debounceMs } : {}),
    ...(opts.kafka && opts.topic ? { kafka: opts.kafka, topic: opts.topic.name } : {}),
  });
  await reloader.start();
  return { current: () => evaluator, onReplace: (l) => listeners.push(l), stop: () => reloader.stop() };
}
