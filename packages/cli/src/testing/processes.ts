/** The CLI's tests run the real commands and services as processes, from the repository's root. */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

/** Starts a TypeScript entry point (path from the repository's root) under tsx. */
export const runScript = (env: NodeJS.ProcessEnv, script: string, args: string[] = []): ChildProcess =>
  spawn(process.execPath, ['--import', 'tsx', script, ...args], { env, cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });

/** Its exit code (or signal) and everything it printed. */
export async function finished(c: ChildProcess): Promise<{ code: number | string | null; out: string; err: string }> {
  let out = '';
  let err = '';
  c.stdout?.on('data', (b) => {
    out += String(b);
  });
  c.stderr?.on('data', (b) => {
    err += String(b);
  });
  const code = await new Promise<NodeJS.Signals | number | null>((r) => c.once('exit', (x, sig) => r(sig ?? x)));
  return { code, out, err };
}
