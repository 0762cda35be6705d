/**
 * The report schedule: on each tick of a cron expression (UTC), the last complete period's report
 * (month or quarter) is written to a directory in each configured format, with its checksum.
 */
import type { Store } from '@custos/store';
import { Cron } from 'croner';
import type { Logger } from 'pino';
import type { AuditRecorder } from './audit.js';
import type { Directory } from './directory.js';
import type { IntegrityProvider } from './integrity.js';
import { type WrittenFile, writePeriodicReport } from './report/writer.js';
import { type Format, previousPeriod } from './schemas.js';

export interface ScheduleOptions {
  cron: string;
  period: 'month' | 'quarter';
  formats: Format[];
  outDir: string;
  tenants: string[];
  actor: string;
  purpose: string;
  store: Store;
  directory: Directory;
  integrity?: IntegrityProvider | undefined;
  recorder?: AuditRecorder | undefined;
  logger: Logger;
}

export interface ReportSchedule {
  /** runs one tick now (or as if at `now`): writes the previous period's reports */
  tick(now?: Date): Promise<WrittenFile[]>;
  nextRun(): Date | null;
  stop(): void;
}

export function startReportSchedule(o: ScheduleOptions): ReportSchedule {
  // validate the expression up front, so a typo fails at start and not at the first tick
  const probe = new Cron(o.cron, { timezone: 'UTC', paused: true });
  probe.stop();
  const tick = async (now = new Date()): Promise<WrittenFile[]> => {
    const period = previousPeriod(o.period, now);
    const written: WrittenFile[] = [];
    for (const tenant of o.tenants) {
      const files = await writePeriodicReport({
        store: o.store,
        directory: o.directory,
        integrity: o.integrity,
        recorder: o.recorder,
        period,
        formats: o.formats,
        outDir: o.outDir,
        tenant,
        actor: o.actor,
        purpose: o.purpose,
        trigger: 'schedule',
        now,
      });
      written.push(...files);
    }
    o.logger.info({ period, files: written.map((f) => ({ path: f.path, sha256: f.sha256 })) }, 'scheduled report written');
    return written;
  };
  const job = new Cron(o.cron, { timezone: 'UTC', protect: true }, async () => {
    try {
      await tick();
    } catch (err) {
      o.logger.error({ err }, 'scheduled report failed');
    }
  });
  return { tick, nextRun: () => job.nextRun(), stop: () => job.stop() };
}
