/**
 * The spool's disk fills up (a 2 MiB tmpfs of the test's own, filled by a ballast file) while events
 * are recorded and Kafka is up. The SDK says so (an error naming the directory and ENOSPC, the
 * `spoolWriteFailing` gauge), keeps the events it cannot write in memory, from where Kafka takes them,
 * and applies back-pressure once they pass `maxQueueBytes`: with 'block' record() hands back a promise
 * that resolves only when the disk takes writes again; with 'spool' it refuses further events with
 * a QueueFullError (never acknowledged, so never lost). Every accepted event is delivered; once the
 * ballast is gone the spool writes again by itself.
 *
 * Needs root (mount -t tmpfs): without it the test fails and says so.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { infraEnv, pace, uniquePrefix, waitFor } from '@custos/test/support';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readBackInOrder } from '../test/read-back.js';
import { type AuditClient, createAuditClient, QueueFullError } from './index.js';
import type { LoggerLike } from './logger.js';

const env = infraEnv();
const ACTORS = 20;

let disk = '';
beforeAll(() => {
  disk = mkdtempSync(join(tmpdir(), 'custos-spool-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', disk], { stdio: 'pipe' });
  } catch (err) {
    rmSync(disk, { recursive: true, force: true });
    disk = '';
    const e = err as { stderr?: Buffer; message: string };
    throw new Error(
      `this test needs a size-limited directory: mount -t tmpfs failed (root or CAP_SYS_ADMIN needed): ${e.stderr?.toString().trim() || e.message}`,
    );
  }
});
afterAll(() => {
  if (disk === '') return;
  execFileSync('umount', ['-l', disk]);
  rmSync(disk, { recursive: true, force: true });
});

let ballast: string | undefined;
afterEach(() => {
  if (ballast !== undefined) rmSync(ballast, { force: true });
  ballast = undefined;
});

/** Fills the disk with a ballast file until it refuses; returns a function that deletes it. */
function fillDisk(): () => void {
  const path = join(disk, 'ballast');
  ballast = path;
  const fd = openSync(path, 'a');
  const buf = Buffer.alloc(1 << 16, 0xba);
  for (const size of [1 << 16, 4096]) {
    for (;;) {
      try {
        if (writeSync(fd, buf, 0, size) < size) break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
        throw err;
      }
    }
  }
  closeSync(fd);
  return () => {
    unlinkSync(path);
    ballast = undefined;
  };
}

function capture(): { logger: LoggerLike; lines: { level: string; obj: object; msg: string }[] } {
  const lines: { level: string; obj: object; msg: string }[] = [];
  const at = (level: string) => (obj: object, msg?: string) => lines.push({ level, obj, msg: msg ?? '' });
  return { logger: { debug: () => {}, info: at('info'), warn: at('warn'), error: at('error') }, lines };
}

function recorder(client: AuditClient) {
  const seq = new Array<number>(ACTORS).fill(0);
  let i = 0;
  return {
    get count() {
      return i;
    },
    /** records event i (throws what record() throws; i advances only when it was accepted) */
    next(): void | Promise<void> {
      const a = i % ACTORS;
      const r = client.record({
        eventId: `0190b0a0-0000-7000-8000-${String(i).padStart(12, '0')}`,
        tenantId: 'spera',
        actor: { id: `s-${a}`, type: 'staff' },
        subject: { id: `cust-${i}`, type: 'customer' },
        categories: ['personal.contact'],
        action: 'read',
        purpose: 'service.support',
        attributes: { seq: String(seq[a]) },
      });
      seq[a]!++;
      i++;
      return r;
    },
  };
}

describe('the spool disk fills up while Kafka is up', () => {
  it("'block': record() holds the caller until the disk takes writes again; nothing accepted is lost", async () => {
    const prefix = uniquePrefix('spool-full-block');
    const dir = join(disk, 'block');
    const { logger, lines } = capture();
    const client = createAuditClient({
      brokers: env.brokers,
      schemaRegistryUrl: env.registryUrl,
      service: 'spool-full-test',
      topicPrefix: prefix,
      createTopics: true,
      spool: { dir },
      maxQueueBytes: 64 * 1024,
      onQueueFull: 'block',
      logger,
    });
    await client.start();
    const rec = recorder(client);
    for (let k = 0; k < 200; k++) expect(rec.next()).toBeUndefined();
    expect(await client.flush(30_000)).toEqual({ delivered: true, unsent: 0 });

    const freeDisk = fillDisk();
    let blocked: Promise<void> | undefined;
    for (let k = 0; k < 50; k++) expect(rec.next()).toBeUndefined();
    await waitFor(() => client.metrics().spoolWriteFailing === 1, { what: 'the spool to meet the full disk' });
    await waitFor(() => client.metrics().sent === rec.count, { what: 'Kafka to take the events from memory' });
    // Small bursts, each taken by Kafka before the next: memory stays far below its bound, only
    // the events the disk refuses pile up, and they are what holds the caller.
    while (blocked === undefined && rec.count < 20_000) {
      for (let k = 0; k < 20 && blocked === undefined; k++) {
        const r = rec.next();
        if (r !== undefined) blocked = r;
      }
      await pace(5);
    }
    expect(blocked, 'record() applied back-pressure').toBeDefined();
    let released = false;
    void blocked!.then(() => {
      released = true;
    });
    const m = client.metrics();
    expect(m.spoolWriteFailing).toBe(1);
    expect(m.spoolWriteErrors).toBeGreaterThan(0);
    expect(m.spoolUnwrittenBytes).toBeGreaterThan(64 * 1024);
    const error = lines.find((l) => l.level === 'error' && l.msg.startsWith('spool: cannot write'));
    expect(error?.msg).toContain(dir);
    expect(error?.msg).toContain('ENOSPC');
    // Kafka takes the accepted events from memory; the caller stays held while the disk is full
    await waitFor(() => client.metrics().sent === rec.count, { what: 'Kafka to acknowledge every accepted event' });
    expect(released).toBe(false);

    freeDisk();
    await waitFor(() => released, { what: 'record() to let the caller go once the disk takes writes again' });
    expect(client.metrics().spoolWriteFailing).toBe(0);
    expect(lines.some((l) => l.msg === 'spool: writes succeed again')).toBe(true);
    for (let k = 0; k < 200; k++) await rec.next();
    expect(await client.flush(30_000)).toEqual({ delivered: true, unsent: 0 });
    await client.close();

    const { distinct } = await readBackInOrder(env.brokers, env.registryUrl, client.topics.accessEvents, rec.count);
    expect(distinct).toBe(rec.count);
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it("'spool': past twice the bound record() refuses events with a QueueFullError naming the directory and ENOSPC", async () => {
    const prefix = uniquePrefix('spool-full-spool');
    const dir = join(disk, 'spool');
    const { logger } = capture();
    const client = createAuditClient({
      brokers: env.brokers,
      schemaRegistryUrl: env.registryUrl,
      service: 'spool-full-test',
      topicPrefix: prefix,
      createTopics: true,
      spool: { dir },
      maxQueueBytes: 64 * 1024,
      logger,
    });
    await client.start();
    const rec = recorder(client);
    const freeDisk = fillDisk();
    let refused: unknown;
    for (let k = 0; k < 50; k++) rec.next();
    await waitFor(() => client.metrics().spoolWriteFailing === 1, { what: 'the spool to meet the full disk' });
    while (refused === undefined && rec.count < 20_000) {
      try {
        rec.next();
      } catch (err) {
        refused = err;
      }
    }
    expect(refused).toBeInstanceOf(QueueFullError);
    expect((refused as Error).message).toContain(dir);
    expect((refused as Error).message).toContain('ENOSPC');
    expect((refused as QueueFullError).retriable).toBe(true);
    // rec.count counts the accepted events only: the refused one was never acknowledged
    const accepted = rec.count;

    freeDisk();
    await waitFor(() => client.metrics().spoolWriteFailing === 0, { what: 'the spool to write again' });
    expect(await client.flush(30_000)).toEqual({ delivered: true, unsent: 0 });
    expect(client.metrics().sent).toBe(accepted);
    await client.close();
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);
});
