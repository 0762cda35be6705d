/** What `custos policy check` reports about a valid bundle: counts and things worth a second look. */
import type { LoadedBundle } from './bundle.js';
import { DAY_MS, dayEndExclusive, dayStart, formatDay } from './dates.js';
import { type BundleIssue, formatPath } from './errors.js';

export interface BundleSummary {
  version: string;
  policyVersion: string;
  counts: {
    categories: number;
    purposes: number;
    roles: number;
    grants: number;
    staff: number;
    parties: number;
    agreements: number;
  };
  warnings: BundleIssue[];
}

const EXPIRY_NOTICE_DAYS = 30;

export function summarizeBundle(loaded: LoadedBundle, now: Date = new Date()): BundleSummary {
  const b = loaded.bundle;
  const t = now.getTime();
  const warnings: BundleIssue[] = [];
  const warn = (path: PropertyKey[], message: string) => warnings.push({ path: formatPath(path), message });

  b.agreements.forEach((a, i) => {
    const party = b.parties.find((p) => p.id === a.party);
    if (a.to !== undefined) {
      const end = dayEndExclusive(a.to);
      if (end <= t) warn(['agreements', i, 'to'], `${a.id} with ${a.party} expired on ${a.to}`);
      else if (end - t <= EXPIRY_NOTICE_DAYS * DAY_MS) {
        const days = Math.ceil((end - t) / DAY_MS);
        warn(['agreements', i, 'to'], `${a.id} with ${a.party} expires on ${a.to} (within ${days} day${days === 1 ? '' : 's'})`);
      }
    }
    if (dayStart(a.from) > t) warn(['agreements', i, 'from'], `${a.id} with ${a.party} is not in force before ${a.from}`);
    if (party !== undefined && party.type !== 'processor') {
      warn(
        ['agreements', i, 'party'],
        `${a.id} is with ${party.type} ${party.id}; the policy shares only with processors under agreement`,
      );
    }
  });

  b.parties.forEach((p, i) => {
    if (p.type === 'processor' && !b.agreements.some((a) => a.party === p.id)) {
      warn(['parties', i], `processor ${p.id} has no agreement, so every access by or share to it is denied`);
    }
  });

  b.staff.forEach((s, i) => {
    if (s.roles.length === 0) warn(['staff', i, 'roles'], `${s.name} (${s.id}) has no roles`);
    else if (!s.roles.some((r) => dayStart(r.from) <= t && (r.to === undefined || t < dayEndExclusive(r.to)))) {
      const ends = s.roles.flatMap((r) => (r.to === undefined ? [] : [dayStart(r.to)]));
      const last = ends.length > 0 ? ` (last role ended ${formatDay(Math.max(...ends))})` : '';
      warn(['staff', i, 'roles'], `${s.name} (${s.id}) holds no role on ${formatDay(t)}${last}`);
    }
    if (s.tenants.length === 0) warn(['staff', i, 'tenants'], `${s.name} (${s.id}) is assigned to no tenant`);
  });

  const assigned = new Set(b.staff.flatMap((s) => s.roles.map((r) => r.role)));
  for (const role of Object.keys(b.roles)) {
    if (!assigned.has(role)) warn(['roles', role], `role ${role} is assigned to no staff member`);
  }
  for (const c of Object.keys(b.categories)) {
    if (!Object.hasOwn(b.retentionDays, c))
      warn(['retentionDays'], `no retention for category ${c}: RETENTION_EXPIRED never fires for it`);
  }

  return {
    version: b.version,
    policyVersion: loaded.policyVersion,
    counts: {
      categories: Object.keys(b.categories).length,
      purposes: Object.keys(b.purposes).length,
      roles: Object.keys(b.roles).length,
      grants: Object.values(b.roles).reduce((n, g) => n + g.length, 0),
      staff: b.staff.length,
      parties: b.parties.length,
      agreements: b.agreements.length,
    },
    warnings,
  };
}

export function formatSummary(s: BundleSummary, source: string): string {
  const c = s.counts;
  const lines = [
    `${source}: valid`,
    `  version      ${s.policyVersion}`,
    `  categories   ${c.categories}`,
    `  purposes     ${c.purposes}`,
    `  roles        ${c.roles}`,
    `  grants       ${c.grants}`,
    `  staff        ${c.staff}`,
    `  parties      ${c.parties}`,
    `  agreements   ${c.agreements}`,
  ];
  if (s.warnings.length === 0) lines.push('no warnings');
  else {
    lines.push(`${s.warnings.length} warning${s.warnings.length === 1 ? '' : 's'}:`);
    for (const w of s.warnings) lines.push(`  - ${w.path}: ${w.message}`);
  }
  return `${lines.join('\n')}\n`;
}
