/** Loading and validating a policy bundle; a bundle's version is its `version` plus a content hash. */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { canonicalJson } from '@custos/schemas';
import { parseDocument } from 'yaml';
import { ALL, bundleSchema, type PolicyBundle } from './bundle-schema.js';
import { dayStart } from './dates.js';
import { BundleError, type BundleIssue, formatPath } from './errors.js';

export interface LoadedBundle {
  bundle: PolicyBundle;
  /** `<version>+sha256:<12 hex>`, e.g. `spera-2026.11.1+sha256:ab12cd34ef56` */
  policyVersion: string;
  /** full sha256 (hex) of the canonical JSON */
  hash: string;
}

export type BundleResult = { ok: true; value: LoadedBundle } | { ok: false; issues: BundleIssue[] };

export function bundleHash(bundle: PolicyBundle): string {
  return createHash('sha256').update(canonicalJson(bundle)).digest('hex');
}

export function policyVersionOf(bundle: PolicyBundle): string {
  return `${bundle.version}+sha256:${bundleHash(bundle).slice(0, 12)}`;
}

/** Validates a parsed JSON value: structure first, then every cross-reference. */
export function parseBundle(input: unknown): BundleResult {
  const r = bundleSchema.safeParse(input);
  if (!r.success) {
    return { ok: false, issues: r.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message })) };
  }
  const issues = crossCheck(r.data);
  if (issues.length > 0) return { ok: false, issues };
  const hash = bundleHash(r.data);
  return { ok: true, value: { bundle: r.data, hash, policyVersion: `${r.data.version}+sha256:${hash.slice(0, 12)}` } };
}

/**
 * A bundle's text, in JSON or YAML: JSON when its first non-blank character is `{`, YAML otherwise.
 * One parser for every way a bundle arrives (file, `policy-bundles` topic, CLI), so a YAML file can
 * be watched or published like a JSON one. Both give the same bundle, hence the same version (the
 * hash is of the parsed bundle's canonical JSON).
 */
export function parseBundleText(text: string): BundleResult {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  return /^\s*\{/.test(body) ? parseJsonText(body) : parseYamlText(body);
}

function parseJsonText(text: string): BundleResult {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { ok: false, issues: [{ path: '', message: `not valid JSON: ${err instanceof Error ? err.message : String(err)}` }] };
  }
  return parseBundle(json);
}

function parseYamlText(text: string): BundleResult {
  // Duplicate keys are errors (JSON.parse would keep the last silently); aliases are bounded by
  // the library's default (maxAliasCount 100), so a hostile bundle cannot expand without limit.
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      issues: doc.errors.map((e) => ({ path: '', message: `not valid YAML: ${e.message.split('\n')[0]?.replace(/:$/, '')}` })),
    };
  }
  let value: unknown;
  try {
    value = doc.toJS();
  } catch (err) {
    return { ok: false, issues: [{ path: '', message: `not valid YAML: ${err instanceof Error ? err.message : String(err)}` }] };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, issues: [{ path: '', message: 'not a bundle: expected a JSON object or a YAML mapping at the top' }] };
  }
  return parseBundle(value);
}

/** Reads and validates a bundle file; throws BundleError naming every problem. */
export async function loadBundle(path: string): Promise<LoadedBundle> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = err instanceof Error && 'code' in err ? String(err.code) : '';
    // A busy system may free descriptors or finish I/O later; a missing or unreadable file stays so.
    const retriable = code === 'EMFILE' || code === 'ENFILE' || code === 'EAGAIN' || code === 'EIO';
    const why = code === 'ENOENT' ? 'file not found' : err instanceof Error ? err.message : String(err);
    throw new BundleError(path, [{ path: '', message: why }], retriable, `cannot read policy bundle ${path}`);
  }
  const r = parseBundleText(text);
  if (!r.ok) throw new BundleError(path, r.issues);
  return r.value;
}

function crossCheck(b: PolicyBundle): BundleIssue[] {
  const issues: BundleIssue[] = [];
  const add = (path: PropertyKey[], message: string) => issues.push({ path: formatPath(path), message });
  const categories = new Set(Object.keys(b.categories));
  const purposes = new Set(Object.keys(b.purposes));
  const tenants = new Set<string>();
  b.tenants.forEach((t, i) => {
    if (t === ALL) add(['tenants', i], '"*" is not a tenant; list each tenant id');
    else if (tenants.has(t)) add(['tenants', i], `duplicate tenant "${t}"`);
    tenants.add(t);
  });

  const checkCategories = (list: string[], at: PropertyKey[]) =>
    list.forEach((c, k) => {
      if (c !== ALL && !categories.has(c)) add([...at, k], `unknown category "${c}"`);
    });
  const checkPurposes = (list: string[], at: PropertyKey[]) =>
    list.forEach((p, k) => {
      if (!purposes.has(p)) add([...at, k], `unknown purpose "${p}"`);
    });

  b.prohibitedPurposes.forEach((p, i) => {
    if (!purposes.has(p)) add(['prohibitedPurposes', i], `"${p}" is not in purposes`);
  });

  const grantIds = new Map<string, string>();
  for (const [role, grants] of Object.entries(b.roles)) {
    grants.forEach((g, i) => {
      const at = ['roles', role, i];
      const seen = grantIds.get(g.id);
      if (seen !== undefined) add([...at, 'id'], `duplicate grant id "${g.id}" (also at ${seen})`);
      else grantIds.set(g.id, formatPath(at));
      checkCategories(g.categories, [...at, 'categories']);
      checkPurposes(g.purposes, [...at, 'purposes']);
    });
  }

  const staffIds = new Map<string, number>();
  b.staff.forEach((s, i) => {
    const seen = staffIds.get(s.id);
    if (seen !== undefined) add(['staff', i, 'id'], `duplicate staff id "${s.id}" (also at staff[${seen}])`);
    else staffIds.set(s.id, i);
    s.tenants.forEach((t, k) => {
      if (t !== ALL && !tenants.has(t)) add(['staff', i, 'tenants', k], `unknown tenant "${t}" (not in tenants)`);
    });
    s.roles.forEach((r, k) => {
      if (!Object.hasOwn(b.roles, r.role)) add(['staff', i, 'roles', k, 'role'], `unknown role "${r.role}"`);
      if (r.to !== undefined && dayStart(r.to) < dayStart(r.from)) {
        add(['staff', i, 'roles', k, 'to'], `"to" ${r.to} is before "from" ${r.from}`);
      }
    });
  });

  const parties = new Map<string, number>();
  b.parties.forEach((p, i) => {
    const seen = parties.get(p.id);
    if (seen !== undefined) add(['parties', i, 'id'], `duplicate party id "${p.id}" (also at parties[${seen}])`);
    else parties.set(p.id, i);
  });

  const agreementIds = new Map<string, number>();
  b.agreements.forEach((a, i) => {
    const seen = agreementIds.get(a.id);
    if (seen !== undefined) add(['agreements', i, 'id'], `duplicate agreement id "${a.id}" (also at agreements[${seen}])`);
    else agreementIds.set(a.id, i);
    if (!parties.has(a.party)) add(['agreements', i, 'party'], `unknown party "${a.party}"`);
    checkCategories(a.categories, ['agreements', i, 'categories']);
    checkPurposes(a.purposes, ['agreements', i, 'purposes']);
    if (a.to !== undefined && dayStart(a.to) < dayStart(a.from)) {
      add(['agreements', i, 'to'], `"to" ${a.to} is before "from" ${a.from}`);
    }
  });

  for (const c of Object.keys(b.retentionDays)) {
    if (!categories.has(c)) add(['retentionDays', c], `retention for unknown category "${c}"`);
  }
  return issues;
}
