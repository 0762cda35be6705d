/**
 * The API follows the policy bundle as the enforcer does (the enforcer's PolicyReloader: the
 * compacted policy-bundles topic and the bundle file, whichever changed last, invalid bundles
 * rejected with the current one kept). Each applied bundle replaces the directory the API
 * authenticates against and joins names from, so a leaver's credential stops working as soon as
 * the bundle that ends their role arrives.
 */
import { createPolicyJudge, PolicyReloader } from '@custos/enforcer';
import { ensureTopics, type Kafka, type TopicToCreate } from '@custos/kafka';
import type { Logger } from 'pino';
import { type Directory, directoryFromBundle } from './directory.js';

/** The current bundle's directory. */
export interface DirectorySource {
  current(): Directory;
}

export interface FollowedDirectory extends DirectorySource {
  stop(): Promise<void>;
}

export function fixedDirectory(dir: Directory): DirectorySource {
  return { current: () => dir };
}

export function isDirectorySource(d: Directory | DirectorySource): d is DirectorySource {
  return typeof (d as Partial<DirectorySource>).current === 'function';
}

export async function followPolicy(opts: {
  file: string;
  logger: Logger;
  /** with `topic`: follow the policy-bundles topic too */
  kafka?: Kafka | undefined;
  topic?: TopicToCreate | undefined;
  groupPrefix?: string;
  debounceMs?: number;
}): Promise<FollowedDirectory> {
  const judge = await createPolicyJudge(opts.file);
  if (opts.kafka && opts.topic) {
    // the API may start before any enforcer has created the topic
    const admin = opts.kafka.admin();
    await admin.connect();
    try {
      await ensureTopics(admin, [opts.topic]);
    } finally {
      await admin.disconnect();
    }
  }
  let dir = directoryFromBundle(judge.bundle, judge.policyVersion);
  judge.onReplace((evaluator) => {
    dir = directoryFromBundle(evaluator.bundle, evaluator.policyVersion);
    opts.logger.info({ policyVersion: evaluator.policyVersion }, 'api: staff directory replaced by the new policy bundle');
  });
  const reloader = new PolicyReloader({
    judge,
    logger: opts.logger,
    file: opts.file,
    groupPrefix: opts.groupPrefix ?? 'custos-api-policy',
    ...(opts.debounceMs !== undefined ? { debounceMs: opts.debounceMs } : {}),
    ...(opts.kafka && opts.topic ? { kafka: opts.kafka, topic: opts.topic.name } : {}),
  });
  await reloader.start();
  return { current: () => dir, stop: () => reloader.stop() };
}
