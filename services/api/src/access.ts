/**
 * What each role may see, as data: which kinds of decision rows, which ways of selecting them, and
 * which fields of a row. routes.ts says which role may open which view; this table says which data
 * those views (and every other route, export and report) may return to the role, and the query layer
 * applies it to every read (queries.ts `base`, the subject report's reads). A role that may not open
 * a view cannot reach the view's rows through another route: the two tables are checked against
 * each other (access.test.ts).
 */
import { CANONICAL_COLUMNS } from '@custos/store';
import type { Directory } from './directory.js';
import { partiesOfType } from './directory.js';
import type { IntegrityProvider } from './integrity.js';
import type { Role } from './roles.js';

/**
 * The kinds of decision rows, each row exactly one, decided with the bundle's party types:
 * - `disclosure`: a `disclose`, or any access whose recipient is an authority in the bundle;
 * - `sharing`: otherwise, a share or export with a recipient, or an access by a processor itself;
 * - `access`: everything else (staff reading, creating, updating, deleting, exporting for themselves).
 */
export const ROW_KINDS = ['access', 'sharing', 'disclosure'] as const;
export type RowKind = (typeof ROW_KINDS)[number];

/** Ways of selecting rows that amount to a view of their own. */
export const SELECTIONS = ['byActor', 'bySubject'] as const;
export type Selection = (typeof SELECTIONS)[number];

/** Fields of an access item a role may be denied. */
export const GUARDED_FIELDS = ['recipient', 'legalBasis'] as const;
export type GuardedField = (typeof GUARDED_FIELDS)[number];

export interface RoleData {
  rows: readonly RowKind[];
  select: readonly Selection[];
  fields: readonly GuardedField[];
}

/**
 * The matrix. It follows the views of routes.ts: disclosures (`/v1/disclosures`) and sharing
 * (`/v1/sharing`, which includes processors' own processing) are privacy officers', auditors' and
 * admins'; an actor's activity (`/v1/actors/:id/activity`) is for security analysts, auditors and
 * admins; one subject's accesses (`/v1/subjects/:id/report`) for privacy officers and admins.
 */
export const ROLE_DATA: Readonly<Record<Role, RoleData>> = {
  security_analyst: { rows: ['access'], select: ['byActor'], fields: [] },
  privacy_officer: { rows: ['access', 'sharing', 'disclosure'], select: ['bySubject'], fields: ['recipient', 'legalBasis'] },
  auditor: { rows: ['access', 'sharing', 'disclosure'], select: ['byActor'], fields: ['recipient', 'legalBasis'] },
  admin: { rows: ['access', 'sharing', 'disclosure'], select: ['byActor', 'bySubject'], fields: ['recipient', 'legalBasis'] },
};

/** The row kinds each route's own view consists of (what a role that may open it sees there). */
export const VIEW_ROWS: Readonly<Record<string, readonly RowKind[]>> = {
  disclosures: ['disclosure'],
  sharing: ['sharing'],
};
/** The selection each route's own view consists of. */
export const VIEW_SELECTION: Readonly<Record<string, Selection>> = {
  actorActivity: 'byActor',
  subjectReport: 'bySubject',
  subjectState: 'bySubject',
  recordSubjectState: 'bySubject',
};

/** The tenants and the data a read may return. A bare tenant scope reads every kind of row (operators, the CLI). */
export interface DataScope {
  tenants: '*' | string[];
  rows: ReadonlySet<RowKind>;
  /** guarded fields the reader may see */
  fields: ReadonlySet<GuardedField>;
  /** authority party ids of the bundle (for the `disclosure` kind) */
  authorities: readonly string[];
}

export type ScopeInput = '*' | string[] | DataScope;

const ALL_ROWS: ReadonlySet<RowKind> = new Set(ROW_KINDS);
const ALL_FIELDS: ReadonlySet<GuardedField> = new Set(GUARDED_FIELDS);

const ROLE_ROWS = new Map<Role, ReadonlySet<RowKind>>(
  Object.entries(ROLE_DATA).map(([role, d]) => [role as Role, new Set(d.rows)]),
);
const ROLE_FIELDS = new Map<Role, ReadonlySet<GuardedField>>(
  Object.entries(ROLE_DATA).map(([role, d]) => [role as Role, new Set(d.fields)]),
);

export function dataScope(tenants: '*' | string[], role: Role | undefined, dir: Directory): DataScope {
  return {
    tenants,
    // (a role the matrix does not name has no entry, and its read fails rather than sees everything)
    rows: role === undefined ? ALL_ROWS : (ROLE_ROWS.get(role) as ReadonlySet<RowKind>),
    fields: role === undefined ? ALL_FIELDS : (ROLE_FIELDS.get(role) as ReadonlySet<GuardedField>),
    authorities: partiesOfType(dir, 'authority'),
  };
}

export function tenantsOf(s: ScopeInput): '*' | string[] {
  return typeof s === 'string' || Array.isArray(s) ? s : s.tenants;
}

export function rowsOf(s: ScopeInput): ReadonlySet<RowKind> {
  return typeof s === 'string' || Array.isArray(s) ? ALL_ROWS : s.rows;
}

const DISCLOSURE_SQL = `(action = 'disclose' OR recipient_id IN {rkAuthorities:Array(String)})`;
const SHARING_SQL = `(recipient_id != '' OR actor_type = 'processor')`;
const KIND_SQL: Record<RowKind, string> = {
  disclosure: DISCLOSURE_SQL,
  sharing: `(NOT ${DISCLOSURE_SQL} AND ${SHARING_SQL})`,
  access: `(NOT ${DISCLOSURE_SQL} AND NOT ${SHARING_SQL})`,
};

/** A SQL condition selecting the rows of `kinds` (none when every kind is allowed), with its parameters. */
export function rowKindsSql(
  kinds: ReadonlySet<RowKind>,
  authorities: readonly string[],
): { sql: string; params: Record<string, unknown> } | undefined {
  if (ROW_KINDS.every((k) => kinds.has(k))) return undefined;
  if (kinds.size === 0) return { sql: '0', params: {} };
  return { sql: `(${[...kinds].map((k) => KIND_SQL[k]).join(' OR ')})`, params: { rkAuthorities: [...authorities] } };
}

/** The disclosure condition alone (the disclosures view), with its parameters. */
export function disclosureSql(authorities: readonly string[]): { sql: string; params: Record<string, unknown> } {
  return { sql: DISCLOSURE_SQL, params: { rkAuthorities: [...authorities] } };
}

/** The kind of one row, as the SQL above decides it. */
export function rowKind(
  r: { action: string; recipient_id: string; actor_type: string },
  authorities: ReadonlySet<string> | readonly string[],
): RowKind {
  const isAuthority = Array.isArray(authorities)
    ? authorities.includes(r.recipient_id)
    : (authorities as ReadonlySet<string>).has(r.recipient_id);
  if (r.action === 'disclose' || (r.recipient_id !== '' && isAuthority)) return 'disclosure';
  if (r.recipient_id !== '' || r.actor_type === 'processor') return 'sharing';
  return 'access';
}

/** The kind of the row an inclusion proof carries (its canonical line: CANONICAL_COLUMNS in order). */
export function proofRowKind(record: string, s: ScopeInput): RowKind {
  const values = JSON.parse(record) as unknown[];
  const at = (c: string) => String(values[CANONICAL_COLUMNS.findIndex(([name]) => name === c)] ?? '');
  const authorities = typeof s === 'string' || Array.isArray(s) ? [] : s.authorities;
  return rowKind({ action: at('action'), recipient_id: at('recipient_id'), actor_type: at('actor_type') }, authorities);
}

export function fieldsOf(s: ScopeInput): ReadonlySet<GuardedField> {
  return typeof s === 'string' || Array.isArray(s) ? ALL_FIELDS : s.fields;
}

/** An item without the guarded fields the scope may not see. */
export function visible<T extends { recipient?: unknown; legalBasis?: unknown }>(item: T, s: ScopeInput): T {
  const fields = fieldsOf(s);
  if (fields.size === GUARDED_FIELDS.length) return item;
  const out = { ...item };
  for (const f of GUARDED_FIELDS) if (!fields.has(f)) delete out[f];
  return out;
}

export function maySelect(role: Role, s: Selection): boolean {
  return ROLE_DATA[role].select.includes(s);
}

/**
 * Integrity for tenant-scoped callers: hash chains and checkpoints run per Kafka partition across
 * every tenant, so their counts, sequence numbers and time spans describe other tenants' records too.
 * A caller scoped to some tenants gets the verdict only.
 */
export function tenantScopedIntegrity(p: IntegrityProvider): IntegrityProvider {
  return {
    ...p,
    listCheckpoints: async (q) => (q.tenants === '*' ? p.listCheckpoints(q) : []),
    verifyRange: async (q) => {
      const r = await p.verifyRange(q);
      if (q.tenants === '*') return r;
      return {
        status: r.status,
        ...(r.detail !== undefined ? { detail: r.detail } : {}),
        ...(typeof r.checkedAt === 'string' ? { checkedAt: r.checkedAt } : {}),
        scope: 'the verdict covers every tenant’s records; counts and checkpoints are shown to callers with all tenants only',
      };
    },
  };
}
