/**
 * Faults of the disks and the network under `pnpm load` (bench/load.ts), each `kind@SECONDS/DURATION`
 * (seconds after the producer's first event):
 *
 *   spool-full@S/D        the SDK's spool lives on a small tmpfs of the run's own; at S a ballast file
 *                         fills it for D seconds, then is deleted. The producer runs with a small
 *                         memory bound (256 KiB) and onQueueFull 'block' (--on-queue-full spool: refusals),
 *                         so back-pressure shows within seconds.
 *   store-disk-full@S/D   chDB's data directory (CHDB_PATH of the sink + API process) lives on a tmpfs
 *                         of the run's own; a ballast fills it for D seconds: ClickHouse cannot write.
 *   kafka-latency@S/D     every byte between Kafka and the pipeline's processes and the SDK is held
 *                         --kafka-latency-ms (default 100) in each direction for D seconds
 *   kafka-cut@S/D         the connections between Kafka and them are reset and new ones refused for
 *                         D seconds
 *
 * The network faults run on a Kafka of the run's own (test/support/kafka-instance.ts, one broker)
 * whose client listener is advertised at a TCP proxy's port (test/support/tcp-proxy.ts): the
 * enforcer, the sink + API process and the SDK reach it only through the proxy, while the harness
 * (its reader, lag sampler and bad-record producer) uses the broker's internal listener directly. The
 * schema registry keeps the shared Kafka for its storage.
 *
 * A size-limited directory is a tmpfs mounted for the run (`mount -t tmpfs -o size=…`, which needs
 * root or CAP_SYS_ADMIN): when the mount fails the run stops and says why, it never runs without the
 * fault. The mounts are removed at exit, however the run ends.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { type KafkaInstance, kafkaInstance } from '../test/support/kafka-instance.js';
import { freePorts } from '../test/support/ports.js';
import { TcpProxy } from '../test/support/tcp-proxy.js';

export type IoFaultKind = 'spool-full' | 'store-disk-full' | 'kafka-latency' | 'kafka-cut';
export interface IoFault {
  kind: IoFaultKind;
  atS: number;
  forS: number;
}
/** What happened, for the final table and load.json. */
export interface IoFaultRecord {
  fault: IoFaultKind;
  atS: number;
  forS: number;
  /** seconds from the end of the fault until the pipeline worked normally again (see `recovered`) */
  recoveryS: number;
  recovered: string;
  notes: string[];
  /** the fault's own counts, for tests (e.g. blockedS, spoolWriteErrors, readyz503) */
  figures: Record<string, number>;
}

const KINDS = ['spool-full', 'store-disk-full', 'kafka-latency', 'kafka-cut'] as const;
export const IO_FAULT_USAGE = KINDS.map((k) => `${k}@SECONDS/DURATION`).join(', ');

/** The fault named by `spec`, undefined when `spec` names another kind; exits 2 when malformed. */
export function parseIoFault(spec: string): IoFault | undefined {
  const kind = KINDS.find((k) => spec.startsWith(`${k}@`));
  if (kind === undefined) return undefined;
  const m = /@(\d+(?:\.\d+)?)\/(\d+(?:\.\d+)?)$/.exec(spec);
  if (!m) {
    console.error(`load: --fault ${kind} takes ${kind}@SECONDS/DURATION (start and length in seconds), got '${spec}'`);
    process.exit(2);
  }
  return { kind, atS: Number(m[1]), forS: Number(m[2]) };
}

/** A tmpfs of `mib` MiB mounted at `dir` for this run, and a ballast file that fills it. */
export class SmallDisk {
  private readonly ballast: string;
  private fd: number | undefined;
  private static readonly mounted = new Set<string>();

  private constructor(readonly dir: string) {
    this.ballast = join(dir, 'ballast');
  }

  static mount(dir: string, mib: number): SmallDisk {
    mkdirSync(dir, { recursive: true });
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${mib}m,mode=0755`, 'tmpfs', dir], { stdio: 'pipe' });
    } catch (err) {
      const e = err as { stderr?: Buffer; message: string };
      throw new Error(
        `cannot mount a ${mib} MiB tmpfs at ${dir} for the fault (mount -t tmpfs needs root or CAP_SYS_ADMIN): ${e.stderr?.toString().trim() || e.message}`,
      );
    }
    if (SmallDisk.mounted.size === 0) process.on('exit', SmallDisk.unmountAll);
    SmallDisk.mounted.add(dir);
    return new SmallDisk(dir);
  }

  /** Lazy unmount: a process killed with files open there must not keep the mount. */
  private static unmountAll(): void {
    for (const dir of SmallDisk.mounted) {
      try {
        execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
        rmSync(dir, { recursive: true, force: true });
      } catch {
        // already gone
      }
    }
    SmallDisk.mounted.clear();
  }

  unmount(): void {
    if (!SmallDisk.mounted.delete(this.dir)) return;
    this.free();
    execFileSync('umount', ['-l', this.dir], { stdio: 'pipe' });
    rmSync(this.dir, { recursive: true, force: true });
  }

  /**
   * Writes the ballast until the disk refuses (ENOSPC), or tops it up when something was freed
   * meanwhile. Returns the bytes added.
   */
  fill(): number {
    this.fd ??= openSync(this.ballast, 'a');
    const big = Buffer.alloc(1 << 20, 0xba);
    let added = 0;
    for (const size of [1 << 20, 4096]) {
      for (;;) {
        try {
          const n = writeSync(this.fd, big, 0, size);
          added += n;
          if (n < size) break;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw err;
        }
      }
    }
    return added;
  }

  free(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    try {
      unlinkSync(this.ballast);
    } catch {
      // not filled
    }
  }

  /** Fills now and keeps the disk full (a write freed elsewhere is taken again) until `ms` passed. */
  async holdFull(ms: number): Promise<void> {
    const until = Date.now() + ms;
    this.fill();
    while (Date.now() < until) {
      await new Promise((r) => setTimeout(r, Math.min(100, until - Date.now())));
      this.fill();
    }
    this.free();
  }
}

/** What the faults need from the run. */
export interface IoRun {
  /** true once the producer has recorded its first event: the faults' times count from then */
  producing: () => boolean;
  rate: number;
  partitions: number;
  apiPort: number;
  /** the consumer lags as last sampled (once a second) */
  lag: () => { enforcer: number; sink: number };
}

/** The report's fields the spool fault reads (bench/load-producer.ts). */
interface SpoolFigures {
  blockedMs: number;
  refused: number;
  spoolWriteErrors: number;
  spoolFailingFrom: number;
  spoolFailingUntil: number;
  maxUnwrittenBytes: number;
  spoolError: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

async function pollUntil(ok: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await ok()) return true;
    await sleep(everyMs);
  }
  return false;
}

async function readyz(apiPort: number): Promise<number> {
  try {
    return (await fetch(`http://127.0.0.1:${apiPort}/readyz`, { signal: AbortSignal.timeout(2000) })).status;
  } catch {
    return 0;
  }
}

/** The disk and network faults of one run: their disks, schedule and record. */
export class IoFaults {
  private spoolDisk: SmallDisk | undefined;
  private storeDisk: SmallDisk | undefined;
  private readonly records: IoFaultRecord[] = [];
  private spoolFreedAt = 0;
  private kafka: KafkaInstance | undefined;
  private proxy: TcpProxy | undefined;

  constructor(
    readonly faults: IoFault[],
    private readonly work: string,
    private readonly opts: { onQueueFull: 'block' | 'spool'; latencyMs: number },
  ) {}

  /** through the proxy: the pipeline's processes and the SDK */
  get clientBrokers(): string[] | undefined {
    return this.kafka?.brokers;
  }

  /** around the proxy: the harness */
  get directBrokers(): string[] | undefined {
    return this.kafka?.internalPorts.map((p) => `127.0.0.1:${p}`);
  }

  /**
   * Mounts the small disks the faults need and starts the Kafka and proxy of the network faults
   * (before the pipeline and the producer start).
   */
  async setup(): Promise<void> {
    if (this.faults.some((f) => f.kind === 'kafka-latency' || f.kind === 'kafka-cut')) {
      const [proxyPort] = await freePorts(1);
      const kafka = await kafkaInstance('load-net', { brokers: 1, advertisedPorts: [proxyPort!] });
      this.kafka = kafka;
      // however the run ends (load.ts exits at once on failure): the broker is a process of ours
      process.on('exit', () => {
        try {
          process.kill(Number(readFileSync(join(kafka.runDir, 'kafka-1.pid'), 'utf8').trim()), 'SIGKILL');
        } catch {
          // stopped already
        }
        rmSync(kafka.runDir, { recursive: true, force: true });
      });
      this.proxy = await TcpProxy.start({ port: proxyPort!, target: { host: '127.0.0.1', port: kafka.listenerPorts[0]! } });
      await kafka.start();
    }
    if (this.faults.some((f) => f.kind === 'spool-full')) this.spoolDisk = SmallDisk.mount(join(this.work, 'spool-disk'), 16);
    // chDB needs room for its parts and merges; 256 MiB holds a short run's rows many times over
    if (this.faults.some((f) => f.kind === 'store-disk-full'))
      this.storeDisk = SmallDisk.mount(join(this.work, 'chdb-disk'), 256);
  }

  /** CHDB_PATH of the sink + API process when its disk is to fill up */
  get chdbPath(): string | undefined {
    return this.storeDisk && join(this.storeDisk.dir, 'chdb');
  }

  /** extra options of bench/load-producer.ts */
  get producerArgs(): string[] {
    if (this.spoolDisk === undefined) return [];
    return [
      `--spool-dir=${join(this.spoolDisk.dir, 'spool')}`,
      '--max-queue-bytes=262144',
      `--on-queue-full=${this.opts.onQueueFull}`,
    ];
  }

  /** Runs every fault at its time; resolves when each is over and its recovery measured. */
  async run(r: IoRun): Promise<void> {
    if (this.faults.length === 0) return;
    await pollUntil(r.producing, 600_000, 50);
    const base = Date.now();
    await Promise.all(
      this.faults.map(async (f) => {
        await sleep(base + f.atS * 1000 - Date.now());
        if (f.kind === 'spool-full') await this.spoolFull(f);
        else if (f.kind === 'store-disk-full') await this.storeDiskFull(f, r);
        else await this.network(f, r);
      }),
    );
  }

  private async spoolFull(f: IoFault): Promise<void> {
    await this.spoolDisk!.holdFull(f.forS * 1000);
    this.spoolFreedAt = Date.now();
    // the rest is read from the producer's report (finish)
    this.records.push({ fault: f.kind, atS: f.atS, forS: f.forS, recoveryS: -1, recovered: '', notes: [], figures: {} });
  }

  private async storeDiskFull(f: IoFault, r: IoRun): Promise<void> {
    const notes: string[] = [];
    let notReady = 0;
    let firstNotReadyAt = 0;
    let polls = 0;
    const until = Date.now() + f.forS * 1000;
    const disk = this.storeDisk!;
    disk.fill();
    while (Date.now() < until) {
      await sleep(Math.min(250, until - Date.now()));
      disk.fill();
      polls++;
      if ((await readyz(r.apiPort)) === 503) {
        notReady++;
        firstNotReadyAt ||= Date.now();
      }
    }
    disk.free();
    const freedAt = Date.now();
    const startedAt = until - f.forS * 1000;
    notes.push(
      notReady > 0
        ? `/readyz answered 503 in ${notReady} of ${polls} polls while the disk was full (first ${((firstNotReadyAt - startedAt) / 1000).toFixed(1)} s in)`
        : `/readyz never answered 503 while the disk was full (${polls} polls)`,
    );
    const ready = await pollUntil(async () => (await readyz(r.apiPort)) === 200, 120_000);
    const readyAt = Date.now();
    notes.push(
      ready
        ? `ready again ${((readyAt - freedAt) / 1000).toFixed(1)} s after the disk was freed`
        : 'not ready again within 120 s',
    );
    // caught up: the sink's lag back within a second's worth of events
    const caughtUp = await pollUntil(() => r.lag().sink <= Math.max(r.partitions, r.rate), 180_000, 250);
    this.records.push({
      fault: f.kind,
      atS: f.atS,
      forS: f.forS,
      recoveryS: caughtUp ? (Date.now() - freedAt) / 1000 : -1,
      recovered: 'the sink caught up (lag ≤ 1 s of events)',
      notes,
      figures: { readyz503: notReady, readyzPolls: polls, readyAgainS: ready ? (readyAt - freedAt) / 1000 : -1 },
    });
  }

  private async network(f: IoFault, r: IoRun): Promise<void> {
    const proxy = this.proxy!;
    const accepted = proxy.accepted;
    if (f.kind === 'kafka-latency') proxy.latencyMs = this.opts.latencyMs;
    else await proxy.cut();
    await sleep(f.forS * 1000);
    if (f.kind === 'kafka-latency') proxy.latencyMs = 0;
    else await proxy.restore();
    const endedAt = Date.now();
    const during = proxy.accepted - accepted;
    const bound = Math.max(r.partitions, r.rate);
    const caughtUp = await pollUntil(() => r.lag().enforcer <= bound && r.lag().sink <= bound, 180_000, 250);
    this.records.push({
      fault: f.kind,
      atS: f.atS,
      forS: f.forS,
      recoveryS: caughtUp ? (Date.now() - endedAt) / 1000 : -1,
      recovered: 'the enforcer and the sink caught up (lag ≤ 1 s of events)',
      notes: [
        f.kind === 'kafka-latency' ? `${this.opts.latencyMs} ms added in each direction` : 'connections reset, new ones refused',
        `new connections through the proxy: ${during} while it lasted`,
      ],
      figures: {
        latencyMs: f.kind === 'kafka-latency' ? this.opts.latencyMs : 0,
        connectionsDuring: during,
        // counted again at the end of the run (finish): the clients reconnect when they next need
        // Kafka, which may be after the lag looked caught up (the SDK's sends went through the cut too)
        connectionsAfter: proxy.accepted - accepted - during,
      },
    });
    this.afterBase.set(this.records.length - 1, accepted + during);
  }

  /** per network record: the proxy's accepted count when its fault ended */
  private readonly afterBase = new Map<number, number>();

  /** The records, completed with what the producer reported about its spool. */
  finish(report: SpoolFigures | undefined): IoFaultRecord[] {
    for (const [i, base] of this.afterBase) {
      const rec = this.records[i];
      if (!rec || !this.proxy) continue;
      const after = this.proxy.accepted - base;
      rec.figures = { ...rec.figures, connectionsAfter: after };
      rec.notes.push(`new connections through the proxy after it ended (to the end of the run): ${after}`);
    }
    const spool = this.records.find((x) => x.fault === 'spool-full');
    if (spool && report) {
      spool.recoveryS = report.spoolFailingUntil > 0 ? Math.max(0, (report.spoolFailingUntil - this.spoolFreedAt) / 1000) : -1;
      spool.recovered = 'the spool wrote again';
      spool.notes.push(
        report.spoolFailingFrom > 0
          ? `spool writes failed for ${((report.spoolFailingUntil || Date.now()) - report.spoolFailingFrom) / 1000} s (${report.spoolWriteErrors} failed writes)`
          : 'the spool never reported a failed write',
        `back-pressure: record() blocked ${(report.blockedMs / 1000).toFixed(1)} s in all, refused ${report.refused} times; at most ${Math.round(report.maxUnwrittenBytes / 1024)} KiB unwritten`,
      );
      if (report.spoolError !== '') spool.notes.push(`SDK logged: ${report.spoolError.slice(0, 300)}`);
      spool.figures = {
        spoolWriteErrors: report.spoolWriteErrors,
        spoolFailingS:
          report.spoolFailingFrom > 0 ? ((report.spoolFailingUntil || Date.now()) - report.spoolFailingFrom) / 1000 : 0,
        blockedS: report.blockedMs / 1000,
        refused: report.refused,
        maxUnwrittenBytes: report.maxUnwrittenBytes,
      };
    }
    return this.records;
  }

  async cleanup(): Promise<void> {
    this.spoolDisk?.unmount();
    this.storeDisk?.unmount();
    await this.proxy?.close();
    await this.kafka?.destroy();
  }
}
