// Start-up time of the CLI, built (node dist/) against sources (tsx with the custos-source
// condition): medians of N runs of `custos --help`, `custos evaluate` of one event against the example policy, and
// `custos start` up to its 'api listening' log line (needs Kafka and the registry:
// KAFKA_BROKERS / SCHEMA_REGISTRY_URL). Run `pnpm build` first.
//   node scripts/startup-time.mjs [runs] [--no-start]
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const runs = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 5);
const withStart = !process.argv.includes('--no-start');
const variants = {
  built: { cmd: process.execPath, args: [join(root, 'packages/cli/dist/bin.js')], nodeOptions: '' },
  source: {
    cmd: join(root, 'node_modules/.bin/tsx'),
    args: [join(root, 'packages/cli/src/bin.ts')],
    nodeOptions: '--conditions=custos-source',
  },
};
const examples = join(root, 'policies');
// One event of the example bundle's tenant, judged from stdin.
const event = `${JSON.stringify({
  eventId: '00000000-0000-7000-8000-000000000001',
  occurredAt: '2026-03-02T10:00:00Z',
  tenantId: 'spera',
  actor: { id: 's-asha', type: 'staff' },
  subject: { id: 'cust-1001', type: 'customer' },
  categories: ['personal.contact'],
  action: 'read',
  purpose: 'service.support',
  source: { service: 'crm' },
  fields: ['email'],
})}\n`;

/**
 * Runs one command under bash's `time`; resolves with { wall, cpu } in milliseconds: until
 * `done(output)` is true (then the process is stopped) or the process exits. CPU: user + system of the
 * process and its children (tsx runs node as a child), at exit or when `done`.
 */
function time(v, args, env, done, input) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const quoted = [v.cmd, ...v.args, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
    const p = spawn('bash', ['-c', `TIMEFORMAT='@cpu %U %S'; time ${done ? 'exec ' : ''}${quoted}`], {
      cwd: root,
      env: { ...process.env, ...env, NODE_OPTIONS: v.nodeOptions },
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    if (input !== undefined) p.stdin.end(input);
    let out = '';
    let wall;
    let cpuAtDone;
    const check = (chunk) => {
      out += chunk;
      if (wall === undefined && done?.(out)) {
        wall = performance.now() - t0;
        cpuAtDone = treeCpu(p.pid);
        p.kill('SIGTERM');
      }
    };
    p.stdout.on('data', check);
    p.stderr.on('data', check);
    p.on('error', reject);
    p.on('exit', (code) => {
      if (wall !== undefined) return resolve({ wall, cpu: cpuAtDone });
      if (done || code !== 0) return reject(new Error(`${args.join(' ')} exited ${code}:\n${out.slice(-2000)}`));
      const m = /@cpu ([\d.]+) ([\d.]+)/.exec(out);
      resolve({ wall: performance.now() - t0, cpu: m ? (Number(m[1]) + Number(m[2])) * 1000 : Number.NaN });
    });
  });
}

/** CPU (user + system) of a process and its descendants so far, in ms, from /proc (Linux). */
function treeCpu(pid) {
  const stats = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      // fields after the command name: state ppid … utime(14) stime(15)
      const f = readFileSync(`/proc/${d}/stat`, 'utf8').split(') ').at(-1).split(' ');
      stats.push({ pid: Number(d), ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) });
    } catch {
      // gone meanwhile
    }
  }
  const tree = new Set([pid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const s of stats) {
      if (!tree.has(s.pid) && tree.has(s.ppid)) {
        tree.add(s.pid);
        grew = true;
      }
    }
  }
  return stats.filter((s) => tree.has(s.pid)).reduce((n, s) => n + s.ticks, 0) * 10; // 100 ticks a second
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function measure(name, make) {
  for (const [variant, v] of Object.entries(variants)) {
    await make(v, -1); // warm the file system cache
    const xs = [];
    for (let i = 0; i < runs; i++) xs.push(await make(v, i));
    const walls = xs.map((x) => Math.round(x.wall));
    const cpu = Math.round(median(xs.map((x) => x.cpu)));
    console.log(
      `${name.padEnd(22)} ${variant.padEnd(7)} wall median ${median(walls)} ms (${walls.join(', ')})${Number.isNaN(cpu) ? '' : `; CPU median ${cpu} ms`}`,
    );
  }
}

await measure('custos --help', (v) => time(v, ['--help']));
await measure('custos evaluate', (v) =>
  time(v, ['evaluate', '--policy', join(examples, 'example-org.json'), '-'], {}, undefined, event),
);
if (withStart) {
  const dir = mkdtempSync(join(tmpdir(), 'custos-startup-'));
  try {
    await measure('custos start (ready)', (v, i) =>
      time(
        v,
        ['start'],
        {
          TOPIC_PREFIX: `startup-${process.pid}-${i + 1}.`,
          ENFORCER_GROUP_ID: `startup-${process.pid}-${i + 1}-enforcer`,
          SINK_GROUP_ID: `startup-${process.pid}-${i + 1}-sink`,
          CHDB_PATH: join(dir, `chdb-${i + 1}`),
          CHECKPOINT_KEY_AUTOGEN: 'true',
          API_PORT: '0',
          LOG_LEVEL: 'info',
        },
        (out) => out.includes('api listening'),
      ),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
