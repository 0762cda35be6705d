/**
 * A throwaway single-node Kafka (KRaft) for tests that must stop and restart the broker: same jars
 * as infra/infra.sh (infra/.cache/kafka-<version>/libs), its own ports and a temp data directory, so
 * the shared broker other tests use is never touched.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createKafka } from '@custos/kafka';
import { waitFor } from '@custos/test/support';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function kafkaLibs(): string {
  const cache = join(root, 'infra', '.cache');
  const dir = readdirSync(cache)
    .filter((d) => /^kafka-\d/.test(d) && existsSync(join(cache, d, 'libs')))
    .sort()
    .at(-1);
  if (!dir) throw new Error('no Kafka jars in infra/.cache (run `bash infra/infra.sh up` once)');
  return join(cache, dir, 'libs');
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export class PrivateKafka {
  private proc: ChildProcess | undefined;
  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly cp: string,
  ) {}

  get brokers(): string[] {
    return [`127.0.0.1:${this.port}`];
  }

  static async start(): Promise<PrivateKafka> {
    const dir = mkdtempSync(join(tmpdir(), 'custos-private-kafka-'));
    const [port, controller] = [await freePort(), await freePort()];
    const cp = `${kafkaLibs()}/*`;
    writeFileSync(
      join(dir, 'server.properties'),
      [
        'process.roles=broker,controller',
        'node.id=1',
        `controller.quorum.voters=1@127.0.0.1:${controller}`,
        `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controller}`,
        `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
        'controller.listener.names=CONTROLLER',
        'inter.broker.listener.name=PLAINTEXT',
        'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
        `log.dirs=${join(dir, 'data')}`,
        'num.partitions=3',
        'auto.create.topics.enable=false',
        'offsets.topic.replication.factor=1',
        'offsets.topic.num.partitions=1',
        'transaction.state.log.replication.factor=1',
        'transaction.state.log.min.isr=1',
        'transaction.state.log.num.partitions=1',
        'group.initial.rebalance.delay.ms=0',
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(dir, 'log4j.properties'),
      'log4j.rootLogger=WARN, stdout\nlog4j.appender.stdout=org.apache.log4j.ConsoleAppender\nlog4j.appender.stdout.layout=org.apache.log4j.PatternLayout\nlog4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n\n',
    );
    // Base64url may start with '-', which StorageTool's argument parser reads as an option (the
    // format then fails, about one run in 64); Kafka's own Uuid.randomUuid() never yields such an id.
    let clusterId: string;
    do clusterId = randomBytes(16).toString('base64url').slice(0, 22);
    while (clusterId.startsWith('-'));
    execFileSync(
      'java',
      [
        `-Dlog4j.configuration=file:${join(dir, 'log4j.properties')}`,
        '-cp',
        cp,
        'kafka.tools.StorageTool',
        'format',
        '-t',
        clusterId,
        '-c',
        join(dir, 'server.properties'),
      ],
      { stdio: 'ignore' },
    );
    const k = new PrivateKafka(dir, port, cp);
    await k.resume();
    return k;
  }

  /** Starts (again) on the same data directory and waits until it answers. */
  async resume(): Promise<void> {
    const log = openSync(join(this.dir, 'kafka.log'), 'a');
    this.proc = spawn(
      'java',
      [
        '-Xms128m',
        '-Xmx384m',
        '-XX:+UseSerialGC',
        '-Dcustos.test.private-kafka=1',
        `-Dlog4j.configuration=file:${join(this.dir, 'log4j.properties')}`,
        '-cp',
        this.cp,
        'kafka.Kafka',
        join(this.dir, 'server.properties'),
      ],
      { stdio: ['ignore', log, log] },
    );
    const kafka = createKafka({
      brokers: this.brokers,
      clientId: 'private-kafka-probe',
      connectionTimeoutMs: 1000,
      retry: { retries: 0 },
    });
    const proc = this.proc;
    await waitFor(
      async () => {
        if (proc.exitCode !== null)
          throw new Error(`private Kafka exited (${proc.exitCode}); see ${join(this.dir, 'kafka.log')}`);
        const admin = kafka.admin();
        try {
          await admin.connect();
          await admin.describeCluster();
          return true;
        } catch {
          return false; // not up yet
        } finally {
          await admin.disconnect().catch(() => {});
        }
      },
      { what: `private Kafka to answer (see ${join(this.dir, 'kafka.log')})`, timeoutMs: 90_000, everyMs: 500 },
    );
  }

  /** Kills the broker (SIGKILL: a crash, not a clean shutdown). */
  async kill(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
    this.proc = undefined;
  }

  async destroy(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
