/**
 * `custos checkpoint list|export|keygen`: the signed checkpoints of the decision chains — list them,
 * export them as files an auditor keeps outside ClickHouse (then `custos verify --checkpoints DIR`),
 * and create a signing key for CHECKPOINT_PRIVATE_KEY.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import {
  checkSignature,
  createStore,
  exportCheckpoints,
  keyId,
  listCheckpoints,
  publicKeyPem,
  type Store,
  storeOptionsFromEnv,
  trustedCheckpointKeys,
} from '@custos/store';
import type { Command } from 'commander';
import { loadCliEnv } from '../env.js';

interface Io {
  stdout: Pick<Writable, 'write'>;
  stderr: Pick<Writable, 'write'>;
}

export async function runCheckpointList(
  o: { chain?: string | undefined; json?: boolean | undefined },
  deps: Io & { store: Store; trusted: KeyObject[] },
): Promise<number> {
  const chain = o.chain === undefined ? undefined : Number(o.chain);
  if (chain !== undefined && (!Number.isInteger(chain) || chain < 0)) {
    deps.stderr.write('custos checkpoint list: --chain must be a partition number\n');
    return 2;
  }
  const list = await listCheckpoints(deps.store, chain === undefined ? {} : { chain });
  const rows = list.map((c) => {
    const check = checkSignature(c, deps.trusted);
    return { ...c, genuine: check.ok, ...(check.ok ? {} : { problem: check.reason }) };
  });
  if (o.json) deps.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
  else {
    for (const c of rows) {
      deps.stdout.write(
        `chain ${c.chain}  seq ${c.prevSeq + 1}…${c.lastSeq}  ${c.records} rows  decided ${c.decidedFrom} … ${c.decidedTo}  ` +
          `hash ${c.lastHash.slice(0, 16)}…  key ${c.keyId}  ${c.genuine ? 'genuine' : `NOT GENUINE: ${c.problem}`}\n`,
      );
    }
  }
  return rows.every((c) => c.genuine) ? 0 : 1;
}

export async function runCheckpointExport(
  o: { out: string; chain?: string | undefined },
  deps: Io & { store: Store; trusted: KeyObject[] },
): Promise<number> {
  const chain = o.chain === undefined ? undefined : Number(o.chain);
  const r = await exportCheckpoints(deps.store, o.out, { trusted: deps.trusted, ...(chain === undefined ? {} : { chain }) });
  deps.stdout.write(`${r.written.length} checkpoint file(s) written to ${o.out}, ${r.skipped} already there or not genuine\n`);
  return 0;
}

export function runKeygen(o: { out: string }, deps: Io): number {
  if (existsSync(o.out)) {
    deps.stderr.write(`custos checkpoint keygen: ${o.out} exists; not overwriting a key\n`);
    return 2;
  }
  const { privateKey } = generateKeyPairSync('ed25519');
  writeFileSync(o.out, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
  deps.stdout.write(
    `private key written to ${o.out} (set CHECKPOINT_PRIVATE_KEY=${o.out}); key id ${keyId(privateKey)}\n` +
      `public key, for CHECKPOINT_PUBLIC_KEY and for auditors:\n${publicKeyPem(privateKey)}`,
  );
  return 0;
}

/**
 * The trusted public keys (CHECKPOINT_PUBLIC_KEY: old and new after a rotation) as one PEM file an
 * auditor can be given, each block preceded by its key id; to a file with `--out`, else stdout.
 */
export function runKeysExport(o: { out?: string | undefined }, deps: Io & { trusted: KeyObject[] }): number {
  if (deps.trusted.length === 0) {
    deps.stderr.write('custos checkpoint keys: no trusted key (CHECKPOINT_PUBLIC_KEY or CHECKPOINT_PRIVATE_KEY)\n');
    return 2;
  }
  const text = deps.trusted.map((k) => `# key id ${keyId(k)}\n${publicKeyPem(k)}`).join('');
  if (o.out) {
    writeFileSync(o.out, text);
    deps.stdout.write(`${deps.trusted.length} public key(s) written to ${o.out}: ${deps.trusted.map(keyId).join(', ')}\n`);
  } else deps.stdout.write(text);
  return 0;
}

function openFromEnv(): { store: Store; trusted: KeyObject[] } {
  const env = loadCliEnv();
  return {
    store: createStore(storeOptionsFromEnv(env)),
    trusted: trustedCheckpointKeys(env),
  };
}

export function registerCheckpoint(program: Command): void {
  const cmd = program.command('checkpoint').description('signed checkpoints of the decision chains');
  const io = { stdout: process.stdout, stderr: process.stderr };
  cmd
    .command('list')
    .description('list checkpoints and whether each is genuine (signed by a trusted key)')
    .option('--chain <partition>', 'one chain')
    .option('--json', 'as JSON')
    .action(async (o: { chain?: string; json?: boolean }) => {
      const { store, trusted } = openFromEnv();
      try {
        process.exitCode = await runCheckpointList(o, { ...io, store, trusted });
      } finally {
        await store.close();
      }
    });
  cmd
    .command('export')
    .description('write genuine checkpoints as JSON files to keep outside ClickHouse (existing files are left alone)')
    .requiredOption('--out <dir>', 'directory (created if missing)')
    .option('--chain <partition>', 'one chain')
    .action(async (o: { out: string; chain?: string }) => {
      const { store, trusted } = openFromEnv();
      try {
        process.exitCode = await runCheckpointExport(o, { ...io, store, trusted });
      } finally {
        await store.close();
      }
    });
  cmd
    .command('keys')
    .description('export the trusted public keys (every key after a rotation) as PEM, with their key ids')
    .option('--out <file>', 'write them to this file instead of stdout')
    .action((o: { out?: string }) => {
      process.exitCode = runKeysExport(o, { ...io, trusted: trustedCheckpointKeys(loadCliEnv()) });
    });
  cmd
    .command('keygen')
    .description('create an Ed25519 checkpoint signing key (PEM, mode 0600) and print its public key')
    .requiredOption('--out <file>', 'where to write the private key')
    .action((o: { out: string }) => {
      process.exitCode = runKeygen(o, io);
    });
}
