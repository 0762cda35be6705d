import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Store } from '@custos/store';
import { describe, expect, it } from 'vitest';
import { runKeygen } from './checkpoint.js';
import { runVerify } from './verify.js';

const io = () => {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, stdout: { write: (s: string) => out.push(s) > 0 }, stderr: { write: (s: string) => err.push(s) > 0 } };
};
const key = generateKeyPairSync('ed25519').publicKey;

describe('custos verify options', () => {
  it('names every bad option and touches no store', async () => {
    const o = io();
    const code = await runVerify(
      { from: 'yesterday', to: '2026-13-40', chain: ['x'], maxFindings: '0' },
      { store: {} as Store, trusted: [key], ...o },
    );
    expect(code).toBe(2);
    expect(o.err.join('')).toMatch(/--from must be an ISO-8601.*\n.*--to must be.*\n.*--chain must be.*\n.*--max-findings/s);
  });

  it('refuses to verify without a trusted key', async () => {
    const o = io();
    expect(await runVerify({}, { store: {} as Store, trusted: [], ...o })).toBe(2);
    expect(o.err.join('')).toMatch(/CHECKPOINT_PUBLIC_KEY/);
  });
});

describe('custos checkpoint keygen', () => {
  it('writes a private key readable only by its owner and prints the public key; never overwrites', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'custos-keygen-')), 'key.pem');
    const o = io();
    expect(runKeygen({ out: file }, o)).toBe(0);
    expect(readFileSync(file, 'utf8')).toMatch(/BEGIN PRIVATE KEY/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(o.out.join('')).toMatch(/BEGIN PUBLIC KEY/);
    expect(runKeygen({ out: file }, io())).toBe(2);
  });
});
