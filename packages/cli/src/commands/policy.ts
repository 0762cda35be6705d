/** `custos policy check FILE` and `custos policy diff A B [--json]`. */
import type { Writable } from 'node:stream';
import {
  BundleError,
  diffBundles,
  formatDiff,
  formatSummary,
  type LoadedBundle,
  loadBundle,
  summarizeBundle,
} from '@custos/policy';
import type { Command } from 'commander';

export interface Io {
  stdout: Pick<Writable, 'write'>;
  stderr: Pick<Writable, 'write'>;
}

async function load(file: string, io: Io): Promise<LoadedBundle | undefined> {
  try {
    return await loadBundle(file);
  } catch (err) {
    if (!(err instanceof BundleError)) throw err;
    io.stderr.write(`${err.message}\n`);
    return undefined;
  }
}

/** Exit code 0 when valid (warnings allowed), 1 with every path-named error on stderr otherwise. */
export async function runPolicyCheck(file: string, io: Io, opts: { now?: Date; json?: boolean } = {}): Promise<number> {
  const loaded = await load(file, io);
  if (loaded === undefined) return 1;
  const summary = summarizeBundle(loaded, opts.now);
  io.stdout.write(
    opts.json ? `${JSON.stringify({ file, valid: true, ...summary, hash: loaded.hash })}\n` : formatSummary(summary, file),
  );
  return 0;
}

export async function runPolicyDiff(a: string, b: string, io: Io, opts: { json?: boolean } = {}): Promise<number> {
  const [x, y] = [await load(a, io), await load(b, io)];
  if (x === undefined || y === undefined) return 1;
  const d = diffBundles(x.bundle, y.bundle, { from: x.policyVersion, to: y.policyVersion });
  io.stdout.write(opts.json ? `${JSON.stringify(d)}\n` : formatDiff(d));
  return 0;
}

function parseNow(value: string): Date {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new Error(`--now: not a date: ${value}`);
  return d;
}

export function registerPolicy(program: Command, io: Io = process): void {
  const policy = program.command('policy').description('validate and compare policy bundles');
  policy
    .command('check')
    .description('validate a bundle and summarise it (version, counts, warnings such as agreements about to expire)')
    .argument('<file>', 'policy bundle (JSON)')
    .option('--now <date>', 'judge expiry warnings as of this date (default: now)', parseNow)
    .option('--json', 'machine-readable output')
    .action(async (file: string, opts: { now?: Date; json?: boolean }) => {
      process.exitCode = await runPolicyCheck(file, io, opts);
    });
  policy
    .command('diff')
    .description('what changed from bundle A to bundle B: grants, staff roles, agreements, retention, thresholds')
    .argument('<a>', 'old bundle')
    .argument('<b>', 'new bundle')
    .option('--json', 'machine-readable output')
    .action(async (a: string, b: string, opts: { json?: boolean }) => {
      process.exitCode = await runPolicyDiff(a, b, io, opts);
    });
}
