import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createLogger } from '@custos/config';
import { compileBundle, parseBundleText } from '@custos/policy';
import { PolicyReloader } from '@custos/policy/follow';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { PolicyJudge } from './judge.js';
import { EnforcerMetrics } from './metrics.js';

const text = readFileSync(fileURLToPath(new URL('../../../policies/example-org.json', import.meta.url)), 'utf8');

function setup() {
  const parsed = parseBundleText(text);
  if (!parsed.ok) throw new Error('reference bundle invalid');
  const judge = new PolicyJudge(compileBundle(parsed.value.bundle, parsed.value.policyVersion));
  const metrics = new EnforcerMetrics();
  const reloader = new PolicyReloader({ judge, logger: createLogger('test', 'silent'), metrics });
  return { judge, metrics, reloader, v1: parsed.value.policyVersion };
}
const renamed = (version: string) => JSON.stringify({ ...JSON.parse(text), version });
const count = async (m: EnforcerMetrics, source: string, result: string) =>
  (await m.policyReloads.get()).values.find((v) => v.labels.source === source && v.labels.result === result)?.value ?? 0;

describe('PolicyReloader.offer', () => {
  it('applies a valid new bundle and reports the same one as unchanged', async () => {
    const { judge, metrics, reloader, v1 } = setup();
    expect(reloader.offer(text, 'topic')).toEqual({ result: 'unchanged', version: v1 });
    const r = reloader.offer(renamed('spera-next'), 'file');
    expect(r.result).toBe('applied');
    expect(judge.policyVersion).toMatch(/^spera-next\+sha256:/);
    expect(await count(metrics, 'file', 'applied')).toBe(1);
    expect((await metrics.policyInfo.get()).values).toEqual([
      expect.objectContaining({ labels: { version: judge.policyVersion }, value: 1 }),
    ]);
  });

  it('rejects an invalid bundle with every issue and keeps the current policy', async () => {
    const { judge, metrics, reloader, v1 } = setup();
    const broken = JSON.parse(text) as { version: string; staff: { roles: { role: string }[] }[]; purposes: unknown };
    broken.version = 'spera-broken';
    broken.staff[0]!.roles[0]!.role = 'ghost';
    const r = reloader.offer(JSON.stringify(broken), 'topic', 't/0/5');
    expect(r.result).toBe('rejected');
    expect(reloader.lastRejection).toMatchObject({ source: 'topic', position: 't/0/5' });
    expect(reloader.lastRejection?.issues.some((i) => i.message.includes('ghost'))).toBe(true);
    expect(reloader.offer('{"version":', 'file').result).toBe('rejected');
    expect(judge.policyVersion).toBe(v1);
    expect(await count(metrics, 'topic', 'rejected')).toBe(1);
    expect(await count(metrics, 'file', 'rejected')).toBe(1);
  });

  it('takes a bundle in YAML (a watched .yaml file, or YAML published to the topic)', () => {
    const { judge, reloader, v1 } = setup();
    expect(reloader.offer(stringify(JSON.parse(text)), 'file')).toEqual({ result: 'unchanged', version: v1 });
    const r = reloader.offer(stringify({ ...JSON.parse(text), version: 'spera-yaml' }), 'topic');
    expect(r.result).toBe('applied');
    expect(judge.policyVersion).toMatch(/^spera-yaml\+sha256:/);
    expect(reloader.offer('version: [', 'file').result).toBe('rejected');
    expect(judge.policyVersion).toMatch(/^spera-yaml\+sha256:/);
  });
});
