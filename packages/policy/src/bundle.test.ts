import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { specFixtures } from '@custos/test/fixtures';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadBundle, parseBundle, parseBundleText } from './bundle.js';
import { BundleError } from './errors.js';
import { repoRoot } from './test-helpers.js';

const referenceText = readFileSync(specFixtures.bundle, 'utf8');

function issuesOf(mutate: (b: ReturnType<typeof raw>) => void) {
  const b = raw();
  mutate(b);
  const r = parseBundle(b);
  if (r.ok) throw new Error('expected the bundle to be invalid');
  return r.issues;
}

// biome-ignore lint/suspicious/noExplicitAny: tests poke at arbitrary JSON
const raw = (): any => JSON.parse(referenceText);

describe('the demo policy', () => {
  it('is byte-identical to the reference bundle of the test fixtures', () => {
    expect(readFileSync(resolve(repoRoot, 'policies/example-org.json'))).toEqual(readFileSync(specFixtures.bundle));
  });
  it('validates', async () => {
    const loaded = await loadBundle(resolve(repoRoot, 'policies/example-org.json'));
    expect(loaded.bundle.version).toBe('spera-2026.11.1');
    expect(loaded.policyVersion).toMatch(/^spera-2026\.11\.1\+sha256:[0-9a-f]{12}$/);
    expect(loaded.policyVersion.endsWith(loaded.hash.slice(0, 12))).toBe(true);
  });
});

describe('YAML bundles', () => {
  const yamlText = readFileSync(resolve(repoRoot, 'policies/example-org.yaml'), 'utf8');
  it('the shipped YAML example is the reference bundle: same bundle, same version', async () => {
    const json = await loadBundle(resolve(repoRoot, 'policies/example-org.json'));
    const yaml = await loadBundle(resolve(repoRoot, 'policies/example-org.yaml'));
    expect(yaml.bundle).toEqual(json.bundle);
    expect(yaml.policyVersion).toBe(json.policyVersion);
  });
  it('any bundle written as YAML reads back as the same bundle', () => {
    const a = parseBundleText(referenceText);
    const b = parseBundleText(stringify(raw()));
    expect(b.ok).toBe(true);
    expect(a.ok && b.ok && b.value.policyVersion === a.value.policyVersion).toBe(true);
  });
  it('names the path of a problem as for JSON', () => {
    const r = parseBundleText(yamlText.replace('role: billing_specialist', 'role: billing'));
    expect(r.ok).toBe(false);
    expect(!r.ok && r.issues.map((i) => `${i.path}: ${i.message}`)).toContainEqual(
      expect.stringMatching(/^staff\[1\]\.roles\[1\]\.role: unknown role "billing"$/),
    );
  });
  it('reports a syntax error with its line', () => {
    const r = parseBundleText('version: spera\ncategories: [a, b\n');
    expect(r.ok).toBe(false);
    expect(!r.ok && r.issues[0]?.message).toMatch(/^not valid YAML: .*line \d+/);
  });
  it('refuses a duplicate key (JSON.parse would keep the last)', () => {
    const r = parseBundleText('version: a\nversion: b\n');
    expect(r.ok).toBe(false);
    expect(!r.ok && r.issues[0]?.message).toMatch(/^not valid YAML: .*unique/i);
  });
  it('refuses a document that is not a mapping', () => {
    for (const text of ['just text', '- a\n- b\n', '']) {
      const r = parseBundleText(text);
      expect(r.ok).toBe(false);
      expect(!r.ok && r.issues[0]?.message).toMatch(/^not a bundle/);
    }
  });
  it('does not expand aliases without bound', () => {
    const lol = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 12; i++)
      lol.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10)
          .fill(`*${String.fromCharCode(96 + i)}`)
          .join(', ')}]`,
      );
    const r = parseBundleText(lol.join('\n'));
    expect(r.ok).toBe(false);
    expect(!r.ok && r.issues[0]?.message).toMatch(/^not valid YAML/);
  });
});

describe('version hash', () => {
  it('ignores formatting and key order', () => {
    const a = parseBundleText(referenceText);
    const reordered = Object.fromEntries(Object.entries(raw()).reverse());
    const b = parseBundleText(JSON.stringify(reordered, null, 7));
    expect(a.ok && b.ok && a.value.policyVersion === b.value.policyVersion).toBe(true);
  });
  it('changes with the content', () => {
    const a = parseBundleText(referenceText);
    const changed = raw();
    changed.bulkAccess.distinctSubjects = 201;
    const b = parseBundle(changed);
    expect(a.ok && b.ok && a.value.policyVersion !== b.value.policyVersion).toBe(true);
  });
  it('the reference bundle keeps its content hash', () => {
    const r = parseBundleText(referenceText);
    expect(r.ok && r.value.hash).toBe('6fdd29d19d06dba285836a1a98e8ec3b32e46bf53512279559cf5cb7c0e162d1');
  });
});

describe('validation names the path of every problem', () => {
  it('unknown role in a staff entry', () => {
    expect(issuesOf((b) => (b.staff[3].roles[0].role = 'billing'))).toEqual([
      { path: 'staff[3].roles[0].role', message: 'unknown role "billing"' },
    ]);
  });
  it('grant of an unknown category or purpose', () => {
    expect(
      issuesOf((b) => {
        b.roles.support_agent[0].categories.push('personal.shoe');
        b.roles.auditor[0].purposes[1] = 'snooping';
      }),
    ).toEqual([
      { path: 'roles.support_agent[0].categories[3]', message: 'unknown category "personal.shoe"' },
      { path: 'roles.auditor[0].purposes[1]', message: 'unknown purpose "snooping"' },
    ]);
  });
  it('duplicate ids of grants, staff, parties and agreements', () => {
    const issues = issuesOf((b) => {
      b.roles.engineer[0].id = 'G-SUP-1';
      b.staff[1].id = 's-asha';
      b.parties[5].id = 'p-postbird';
      b.agreements[2].id = 'AG-POSTBIRD-2024';
    });
    expect(issues.map((i) => i.path)).toEqual(['roles.engineer[0].id', 'staff[1].id', 'parties[5].id', 'agreements[2].id']);
    expect(issues[0]?.message).toBe('duplicate grant id "G-SUP-1" (also at roles.support_agent[0])');
  });
  it('`to` before `from`, and dates that are not calendar days', () => {
    expect(
      issuesOf((b) => {
        b.staff[1].roles[0].to = '2023-04-30';
        b.agreements[0].to = '2023-12-31';
      }),
    ).toEqual([
      { path: 'staff[1].roles[0].to', message: '"to" 2023-04-30 is before "from" 2023-05-01' },
      { path: 'agreements[0].to', message: '"to" 2023-12-31 is before "from" 2024-01-01' },
    ]);
    expect(issuesOf((b) => (b.agreements[1].from = '2023-02-30'))[0]?.path).toBe('agreements[1].from');
  });
  it('agreement with an unknown party, category or purpose', () => {
    expect(
      issuesOf((b) => {
        b.agreements[0].party = 'p-nobody';
        b.agreements[1].categories[0] = 'x';
        b.agreements[1].purposes[0] = 'y';
      }),
    ).toEqual([
      { path: 'agreements[0].party', message: 'unknown party "p-nobody"' },
      { path: 'agreements[1].categories[0]', message: 'unknown category "x"' },
      { path: 'agreements[1].purposes[0]', message: 'unknown purpose "y"' },
    ]);
  });
  it('retention for an unknown category, prohibited purpose not in purposes, unknown tenant', () => {
    expect(
      issuesOf((b) => {
        b.retentionDays['usage.netwrk'] = 10;
        b.prohibitedPurposes.push('rent');
        b.staff[2].tenants = ['client-acme', 'client-initech'];
      }),
    ).toEqual([
      { path: 'prohibitedPurposes[2]', message: '"rent" is not in purposes' },
      { path: 'staff[2].tenants[1]', message: 'unknown tenant "client-initech" (not in tenants)' },
      { path: 'retentionDays["usage.netwrk"]', message: 'retention for unknown category "usage.netwrk"' },
    ]);
  });
  it('structural problems: wrong types, missing and misspelt keys', () => {
    const issues = issuesOf((b) => {
      b.bulkAccess.windowSeconds = -5;
      delete b.parties[0].type;
      b.staff[0].rols = b.staff[0].roles;
      b.roles.engineer[0].actions = ['peek'];
    });
    expect(issues.map((i) => i.path).sort()).toEqual([
      'bulkAccess.windowSeconds',
      'parties[0].type',
      'roles.engineer[0].actions[0]',
      'staff[0]',
    ]);
    expect(issues.find((i) => i.path === 'staff[0]')?.message).toContain('rols');
  });
  it('not JSON at all', () => {
    const r = parseBundleText('{"version": ');
    expect(r.ok).toBe(false);
    expect(!r.ok && r.issues[0]?.message).toMatch(/^not valid JSON/);
  });
});

describe('loadBundle', () => {
  it('throws a BundleError listing paths, not retriable', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'custos-policy-'));
    const file = join(dir, 'bad.json');
    const b = raw();
    b.staff[3].roles[0].role = 'billing';
    b.agreements[0].party = 'p-nobody';
    await writeFile(file, JSON.stringify(b));
    const err = await loadBundle(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BundleError);
    expect(err).toMatchObject({ retriable: false, source: file });
    expect(String(err)).toContain('staff[3].roles[0].role: unknown role "billing"');
    expect(String(err)).toContain('agreements[0].party: unknown party "p-nobody"');
  });
  it('reports a missing file', async () => {
    await expect(loadBundle('/nonexistent/policy.json')).rejects.toThrow(
      'cannot read policy bundle /nonexistent/policy.json: file not found',
    );
  });
});
