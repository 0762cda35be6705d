/**
 * A Kafka of a test's own (`infra/infra.sh kafka ...`): one or three KRaft nodes (combined broker +
 * controller) with their own ports, run directory and log directories, so that a test can stop,
 * kill or restart brokers while other tests keep using the shared Kafka on 9092. With three nodes
 * the defaults are replication factor 3 and min.insync.replicas 2 (internal topics too).
 *
 * Each node listens for clients on `listenerPorts[i]` and advertises `advertisedPorts[i]` (the same
 * unless given: a TCP proxy can listen on the advertised port and forward to the listener). Brokers
 * replicate, and infra.sh's own tools connect, over a separate internal listener, so a proxy cuts
 * clients only. Broker indexes are 0-based (node id = index + 1).
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts } from './ports.js';

const infra = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'infra', 'infra.sh');

export interface KafkaInstanceOptions {
  /** number of brokers: 1, or 3 (replication factor 3, min.insync.replicas 2) */
  brokers?: 1 | 3;
  /** per broker, the port it advertises to clients (a proxy's); default: its listener port */
  advertisedPorts?: number[];
}

export interface KafkaInstance {
  /** bootstrap addresses as clients use them (advertised ports), as KAFKA_BROKERS.split(',') */
  readonly brokers: string[];
  /** per broker, the port it really listens on for clients */
  readonly listenerPorts: number[];
  /** per broker, the port it advertises (= listenerPorts unless given) */
  readonly advertisedPorts: number[];
  /** per broker, the internal listener (advertised as itself: a client bootstrapping here bypasses a proxy) */
  readonly internalPorts: number[];
  /** the run directory (configs, data, logs: kafka-<id>.log) */
  readonly runDir: string;
  /** starts every broker and waits until the cluster and its coordinators answer */
  start(): Promise<void>;
  /** stops every broker (SIGTERM); data stays */
  stop(): Promise<void>;
  restart(): Promise<void>;
  /** SIGKILL one broker */
  killBroker(index: number): Promise<void>;
  /** SIGTERM one broker (controlled shutdown) */
  stopBroker(index: number): Promise<void>;
  /** starts one broker and waits until it is registered again */
  startBroker(index: number): Promise<void>;
  /** index of the broker leading a partition (waits up to 30 s for a leader) */
  leaderOf(topic: string, partition: number): Promise<number>;
  /** waits until a partition has at least `count` in-sync replicas */
  waitInSync(topic: string, partition: number, count: number): Promise<void>;
  /** stops every broker and deletes the run directory */
  destroy(): Promise<void>;
  /** the same, blocking (for a process's exit handler) */
  destroySync(): void;
}

/** Running (a zombie waiting for its parent's reaping counts as gone). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function run(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('bash', [infra, ...args], { env, timeout: 300_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`infra.sh ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

export async function kafkaInstance(label: string, options: KafkaInstanceOptions = {}): Promise<KafkaInstance> {
  const n = options.brokers ?? 1;
  if (options.advertisedPorts && options.advertisedPorts.length !== n) {
    throw new Error(`advertisedPorts lists ${options.advertisedPorts.length} port(s) for ${n} broker(s)`);
  }
  const taken = new Set(options.advertisedPorts ?? []);
  let ports = await freePorts(3 * n);
  while (ports.some((p) => taken.has(p))) ports = await freePorts(3 * n);
  const listenerPorts = ports.slice(0, n);
  const controllerPorts = ports.slice(n, 2 * n);
  const internalPorts = ports.slice(2 * n);
  const advertisedPorts = options.advertisedPorts ?? listenerPorts;
  const runDir = mkdtempSync(join(tmpdir(), `custos-kafka-${label}-`));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CUSTOS_INFRA_DIR: runDir,
    KAFKA_NODES: String(n),
    KAFKA_PORTS: listenerPorts.join(','),
    KAFKA_CONTROLLER_PORTS: controllerPorts.join(','),
    KAFKA_INTERNAL_PORTS: internalPorts.join(','),
    KAFKA_ADVERTISED_PORTS: advertisedPorts.join(','),
    // Small heaps: three brokers share two cores with everything else.
    KAFKA_HEAP_OPTS: process.env.KAFKA_INSTANCE_HEAP_OPTS ?? '-Xms128m -Xmx384m',
    KAFKA_START_TIMEOUT: process.env.KAFKA_START_TIMEOUT ?? '240',
  };
  const node = (index: number): string => {
    if (!Number.isInteger(index) || index < 0 || index >= n) throw new Error(`broker index ${index} is not 0..${n - 1}`);
    return String(index + 1);
  };
  return {
    brokers: advertisedPorts.map((p) => `127.0.0.1:${p}`),
    listenerPorts,
    advertisedPorts,
    internalPorts,
    runDir,
    start: async () => void (await run(['kafka', 'up'], env)),
    stop: async () => void (await run(['kafka', 'down'], env)),
    restart: async () => void (await run(['kafka', 'restart'], env)),
    async killBroker(i) {
      // Straight from the pid file: the kill lands at once (infra.sh first scans /proc for strays).
      const pidFile = join(runDir, `kafka-${node(i)}.pid`);
      const pid = Number(readFileSync(pidFile, 'utf8').trim());
      const ours = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(`-Dcustos.infra.dir=${runDir}`);
      if (!ours) throw new Error(`pid ${pid} in ${pidFile} is not broker ${i} of ${runDir}`);
      process.kill(pid, 'SIGKILL');
      while (alive(pid)) await new Promise((r) => setTimeout(r, 50));
      rmSync(pidFile, { force: true });
    },
    stopBroker: async (i) => void (await run(['kafka', 'stop-broker', node(i)], env)),
    startBroker: async (i) => void (await run(['kafka', 'start-broker', node(i)], env)),
    async leaderOf(topic, partition) {
      const out = (await run(['kafka', 'leader', topic, String(partition)], env)).trim();
      const id = Number(out);
      if (!Number.isInteger(id) || id < 1 || id > n) throw new Error(`unexpected leader '${out}' for ${topic}-${partition}`);
      return id - 1;
    },
    waitInSync: async (topic, partition, count) =>
      void (await run(['kafka', 'isr', topic, String(partition), String(count)], env)),
    async destroy() {
      await run(['kafka', 'down', '--wipe'], env);
      rmSync(runDir, { recursive: true, force: true });
    },
    destroySync() {
      try {
        execFileSync('bash', [infra, 'kafka', 'down', '--wipe'], { env, timeout: 120_000, stdio: 'ignore' });
      } finally {
        rmSync(runDir, { recursive: true, force: true });
      }
    },
  };
}
