import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runPolicyCheck, runPolicyDiff } from './policy.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
const reference = resolve(repoRoot, 'policies/example-org.json');

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { stdout: { write: (s: string) => out.push(s) > 0 }, stderr: { write: (s: string) => err.push(s) > 0 } },
    out: () => out.join(''),
    err: () => err.join(''),
  };
}

// biome-ignore lint/suspicious/noExplicitAny: tests edit arbitrary bundle JSON
async function variant(edit: (b: any) => void): Promise<string> {
  const b = JSON.parse(readFileSync(reference, 'utf8'));
  edit(b);
  const file = join(await mkdtemp(join(tmpdir(), 'custos-policy-')), 'bundle.json');
  await writeFile(file, JSON.stringify(b, null, 2));
  return file;
}

describe('custos policy check', () => {
  it('summarises a valid bundle with version, counts and warnings', async () => {
    const t = io();
    expect(await runPolicyCheck(reference, t.io, { now: new Date('2026-12-10T00:00:00Z') })).toBe(0);
    const text = t.out();
    expect(text).toMatch(/version {6}spera-2026\.11\.1\+sha256:[0-9a-f]{12}/);
    for (const [k, v] of Object.entries({
      categories: 11,
      purposes: 12,
      roles: 9,
      grants: 12,
      staff: 12,
      parties: 6,
      agreements: 4,
    })) {
      expect(text).toMatch(new RegExp(`${k} +${v}\\n`));
    }
    expect(text).toContain('agreements[0].to: AG-POSTBIRD-2024 with p-postbird expires on 2026-12-31 (within 22 days)');
    expect(text).toContain('agreements[2].to: AG-METRICLY-2025 with p-metricly expired on 2025-12-31');
    expect(text).toContain('staff[11].roles: Riya Bose (s-intern) has no roles');
    expect(t.err()).toBe('');
  });
  it('exits 1 naming the path of every error', async () => {
    const file = await variant((b) => {
      b.staff[0].roles[0].role = 'support';
      b.agreements[1].categories.push('client.secret');
    });
    const t = io();
    expect(await runPolicyCheck(file, t.io)).toBe(1);
    expect(t.err()).toContain('staff[0].roles[0].role: unknown role "support"');
    expect(t.err()).toContain('agreements[1].categories[3]: unknown category "client.secret"');
    expect(t.out()).toBe('');
  });
  it('has a JSON form', async () => {
    const t = io();
    await runPolicyCheck(reference, t.io, { json: true, now: new Date('2026-01-01T00:00:00Z') });
    expect(JSON.parse(t.out())).toMatchObject({ valid: true, version: 'spera-2026.11.1', counts: { grants: 12 } });
  });
});

describe('YAML bundles in the CLI', () => {
  const yamlReference = resolve(repoRoot, 'policies/example-org.yaml');
  it('checks a YAML bundle: the same version as its JSON twin', async () => {
    const a = io();
    const b = io();
    expect(await runPolicyCheck(reference, a.io)).toBe(0);
    expect(await runPolicyCheck(yamlReference, b.io)).toBe(0);
    const version = (text: string) => /version {6}(\S+)/.exec(text)?.[1];
    expect(version(b.out())).toBe(version(a.out()));
  });
  it('diffs JSON against YAML: no changes', async () => {
    const t = io();
    expect(await runPolicyDiff(reference, yamlReference, t.io)).toBe(0);
    expect(t.out()).toContain('no changes');
  });
  it('exits 1 on a YAML syntax error, naming the line', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'custos-policy-')), 'bad.yaml');
    await writeFile(file, 'version: a\nversion: b\n');
    const t = io();
    expect(await runPolicyCheck(file, t.io)).toBe(1);
    expect(t.err()).toMatch(/not valid YAML: Map keys must be unique at line 2, column 1\n/);
  });
});

describe('custos policy diff', () => {
  it('reports grants, staff roles, agreements, retention, thresholds and prohibited purposes', async () => {
    const file = await variant((b) => {
      b.version = 'spera-2026.12.0';
      b.roles.support_agent[0].categories.push('client.financial');
      b.roles.support_agent[0].actions = ['read'];
      b.roles.engineer.push({ id: 'G-ENG-2', actions: ['read'], categories: ['usage.activity'], purposes: ['service.delivery'] });
      b.roles.auditor = [];
      b.staff[1].roles[0].to = '2026-07-31';
      b.agreements[2].to = '2026-12-31';
      b.agreements[0].purposes = ['communication.notices'];
      b.retentionDays['usage.network'] = 90;
      b.bulkAccess.distinctSubjects = 150;
      b.prohibitedPurposes.push('improvement.analytics');
    });
    const t = io();
    expect(await runPolicyDiff(reference, file, t.io)).toBe(0);
    const text = t.out();
    expect(text).toContain('+ G-ENG-2 (engineer): read on usage.activity for service.delivery');
    expect(text).toContain('− G-AUD-1 (auditor)');
    expect(text).toMatch(/~ G-SUP-1 \(support_agent\)\n\s+actions − update\n\s+categories \+ client\.financial/);
    expect(text).toMatch(
      /~ Vikram Sen \(s-vikram\)\n\s+role \+ support_agent 2023-05-01 to 2026-07-31\n\s+role − support_agent 2023-05-01 to 2026-06-30/,
    );
    expect(text).toMatch(/~ AG-POSTBIRD-2024 with p-postbird\n\s+purposes − communication\.promotional/);
    expect(text).toContain('to 2025-12-31 → 2026-12-31');
    expect(text).toContain('usage.network: 180 → 90');
    expect(text).toContain('distinctSubjects: 200 → 150');
    expect(text).toMatch(/prohibited purposes:\n\s+\+ improvement\.analytics/);

    const j = io();
    await runPolicyDiff(reference, file, j.io, { json: true });
    const d = JSON.parse(j.out());
    expect(d.grants.changed[0]).toMatchObject({ id: 'G-SUP-1', actions: { added: [], removed: ['update'] } });
    expect(d.bulkAccess).toEqual([{ field: 'distinctSubjects', from: 200, to: 150 }]);
    expect(d.identical).toBe(false);
  });
  it('says so when nothing changed, even if formatting did', async () => {
    const file = await variant(() => {});
    const t = io();
    await runPolicyDiff(reference, file, t.io);
    expect(t.out()).toMatch(/no changes\n$/);
  });
});
