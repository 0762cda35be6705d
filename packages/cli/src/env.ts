/**
 * The settings a one-shot CLI command reads, parsed once when its action runs: the common ones,
 * the store's, the policy bundle, the sink's consumer group (`verify --against-topic`) and who reads
 * (the defaults of `--actor` and `--purpose` for the commands that record their reads).
 */
import { parseEnv } from '@custos/config';
import { DEFAULT_POLICY_FILE } from '@custos/policy';
import { storeProcessEnv } from '@custos/store';
import { z } from 'zod';

export const cliEnv = storeProcessEnv.extend({
  POLICY_FILE: z.string().default(DEFAULT_POLICY_FILE),
  SINK_GROUP_ID: z.string().default('custos-sink'),
  API_REPORT_ACTOR: z.string().min(1).default('s-ira'),
  API_REPORT_PURPOSE: z.string().min(1).default('legal.compliance'),
});
export type CliEnv = z.infer<typeof cliEnv>;

export function loadCliEnv(source: NodeJS.ProcessEnv = process.env): CliEnv {
  return parseEnv(cliEnv, source);
}
