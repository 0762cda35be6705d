/**
 * Writing periodic reports to a directory (the API's schedule and `custos report`): one file per
 * format, each with a `.sha256` beside it in sha256sum's format. Generating a report reads audit
 * data, so it is recorded as an access event like any API read.
 */
import { chmod, mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { reportSignatureFile, type Store } from '@custos/store';
import type { AuditRecorder } from '../audit.js';
import { AuditDb, type QueryLimits } from '../db.js';
import type { Directory } from '../directory.js';
import { type IntegrityProvider, type ReportSigner, unavailableIntegrity } from '../integrity.js';
import type { Scope } from '../queries.js';
import { type Format, periodRange } from '../schemas.js';
import { buildPeriodicReport, periodicReportCsv, periodicReportPdf, renderReport } from './periodic.js';

export interface WriteReportOptions {
  store: Store;
  directory: Directory;
  integrity?: IntegrityProvider | undefined;
  /** records the read; omit only where nothing can be recorded (and say so) */
  recorder?: AuditRecorder | undefined;
  period: string;
  formats: Format[];
  outDir: string;
  /** one tenant, or `*` for all */
  tenant: string;
  /** the staff member the report is generated for (the audit record's actor) */
  actor: string;
  purpose: string;
  /** where the request came from, for the audit record (e.g. `schedule`, `cli`) */
  trigger: string;
  limits?: QueryLimits;
  now?: Date;
  /** signs each file (`<file>.sig.json` beside it); default: the integrity provider's report key */
  sign?: ReportSigner | undefined;
}

export interface WrittenFile {
  format: Format;
  path: string;
  sha256: string;
  bytes: number;
  ms: number;
  /** the signature file and the key id, when signed */
  signature?: { path: string; keyId: string };
}

export function reportFileName(period: string, tenant: string, format: Format): string {
  return `access-report-${period}-${tenant === '*' ? 'all' : tenant.replace(/[^A-Za-z0-9._-]/g, '_')}.${format}`;
}

export async function writePeriodicReport(o: WriteReportOptions): Promise<WrittenFile[]> {
  const actor = o.directory.staff.get(o.actor);
  if (!actor) throw new Error(`report actor ${o.actor} is not in the policy bundle's staff directory`);
  if (!o.directory.purposes.has(o.purpose) || o.directory.prohibitedPurposes.has(o.purpose)) {
    throw new Error(`report purpose ${o.purpose} is not a permitted purpose of the policy bundle`);
  }
  const db = new AuditDb(o.store, o.limits ?? { timeoutS: 300, maxRows: 1_000_000 });
  const scope: Scope = o.tenant === '*' ? '*' : [o.tenant];
  const started = performance.now();
  const report = await buildPeriodicReport(db, o.directory, o.integrity ?? unavailableIntegrity, {
    period: o.period,
    scope,
    generatedAt: o.now ?? new Date(),
  });
  const buildMs = performance.now() - started;
  o.recorder?.record({
    tenantId: o.tenant,
    actor: { id: o.actor, type: 'staff' },
    subject: { id: '*', type: 'customer' },
    categories: ['audit.trail'],
    action: 'export',
    purpose: o.purpose,
    recordCount: Math.max(1, report.rules.reduce((n, r) => n + r.examples.length, 0) + report.disclosures.items.length),
    source: { service: 'custos-api' },
    attributes: { route: 'periodicReport', trigger: o.trigger, period: o.period, formats: o.formats.join(',') },
  });
  await mkdir(o.outDir, { recursive: true, mode: 0o700 });
  const out: WrittenFile[] = [];
  const sign = o.sign ?? o.integrity?.signReport;
  const { from, to } = periodRange(o.period);
  const range = { from, to };
  for (const format of o.formats) {
    const t0 = performance.now();
    const file = await renderReport(report, format, periodicReportCsv, periodicReportPdf);
    const name = reportFileName(o.period, o.tenant, format);
    const path = join(o.outDir, name);
    // write-then-rename, so a reader never sees half a report
    // owner-only: a report is audit data (0600 on creation, and again should a stale .tmp remain)
    await writeFile(`${path}.tmp`, file.body, { mode: 0o600 });
    await chmod(`${path}.tmp`, 0o600);
    await rename(`${path}.tmp`, path);
    await writeFile(`${path}.sha256`, `${file.sha256}  ${name}\n`, { mode: 0o600 });
    await chmod(`${path}.sha256`, 0o600);
    const sig = sign ? await sign(name, file.body, range) : undefined;
    if (sig) {
      await writeFile(`${path}.sig.json`, reportSignatureFile(sig), { mode: 0o600 });
      await chmod(`${path}.sig.json`, 0o600);
    }
    out.push({
      format,
      path,
      sha256: file.sha256,
      bytes: file.body.length,
      ms: buildMs + performance.now() - t0,
      ...(sig ? { signature: { path: `${path}.sig.json`, keyId: sig.fields.keyId } } : {}),
    });
  }
  return out;
}
