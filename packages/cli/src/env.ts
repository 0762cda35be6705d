/**
 * The settings a one-shot CLI command reads, parsed once when its action runs: the common ones,
 * the store's, the policy bundle and the sink's consumer group (`verify --against-topic`).
 */
import { parseEnv } from '@custos/config';
import { DEFAULT_POLICY_FILE } from '@custos/policy';
import { storeProcessEnv } from '@custos/store';
import { z } from 'zod';

export const cliEnv = storeProcessEnv.extend({
  POLICY_FILE: z.string().default(DEFAULT_POLICY_FILE),
  SINK_GROUP_ID: z.string().default('custos-sink'),
});
export type CliEnv = z.infer<typeof cliEnv>;

export function loadCliEnv(source: NodeJS.ProcessEnv = process.env): CliEnv {
  return parseEnv(cliEnv, source);
}
