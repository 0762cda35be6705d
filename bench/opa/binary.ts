/**
 * Where the Open Policy Agent binary and the benchmark driver are: built by scripts/opa.sh into
 * infra/.cache/opa-<version>/bin (git-ignored). The version is the script's default (one place).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const script = join(root, 'scripts', 'opa.sh');

export const OPA_VERSION =
  process.env.OPA_VERSION ?? /OPA_VERSION:-([0-9.]+)/.exec(readFileSync(script, 'utf8'))?.[1] ?? 'unknown';
const binDir = join(root, 'infra', '.cache', `opa-${OPA_VERSION}`, 'bin');

const driverDir = join(root, 'bench', 'opa', 'driver');
/** as scripts/opa.sh names the driver: a hash of its sources, so that a changed one is rebuilt */
const driverHash = createHash('sha256')
  .update(Buffer.concat(['main.go', 'go.mod', 'go.sum'].map((f) => readFileSync(join(driverDir, f)))))
  .digest('hex')
  .slice(0, 12);

export const opaPaths = {
  /** the `opa` command */
  opa: join(binDir, 'opa'),
  /** bench/opa/driver built against the same OPA module */
  driver: join(binDir, `opa-bench-${driverHash}`),
  rego: join(root, 'bench', 'opa', 'custos.rego'),
};

/** Both binaries present (without building them). */
export function opaBuilt(): boolean {
  return existsSync(opaPaths.opa) && existsSync(opaPaths.driver);
}

/** Builds what is missing with scripts/opa.sh (needs Go); throws with the script's message when it cannot. */
export function ensureOpa(): void {
  if (opaBuilt()) return;
  const r = spawnSync('bash', [script], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, OPA_VERSION } });
  if (r.status !== 0 || !opaBuilt()) throw new Error(`scripts/opa.sh could not build OPA ${OPA_VERSION} (exit ${r.status})`);
}
