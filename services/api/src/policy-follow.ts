/**
 * The API follows the policy bundle as the enforcer does (`@custos/policy/follow`: the compacted
 * policy-bundles topic and the bundle file, whichever changed last, invalid bundles rejected with
 * the current one kept). Each applied bundle replaces the directory the API
 * authenticates against and joins names from, so a leaver's credential stops working as soon as
 * the bundle that ends their role arrives.
 */
import type { Kafka, TopicToCreate } from '@custos/kafka';
import { followPolicy as followBundle } from '@custos/policy/follow';
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
  const followed = await followBundle({ ...opts, groupPrefix: opts.groupPrefix ?? 'custos-api-policy' });
  const first = followed.current();
  let dir = directoryFromBundle(first.bundle, first.policyVersion);
  followed.onReplace((evaluator) => {
    dir = directoryFromBundle(evaluator.bundle, evaluator.policyVersion);
    opts.logger.info({ policyVersion: evaluator.policyVersion }, 'api: staff directory replaced by the new policy bundle');
  });
  return { current: () => dir, stop: () => followed.stop() };
}
