// Start-up time of the CLI, built (node dist/) against sources (tsx with the custos-source
// condition): medians of N runs of `custos --help`, `custos evaluate` of one event against the example policy, and
// `custos start` up to its 'api listening' log line (needs Kafka and the registry:
// KAFKA_BROKERS / SCHEMA_REGISTRY_URL). Run `pnpm build` first.
//   node scripts/startup-time.mjs [runs] [--no-start]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
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

/** Runs one command; resolves with milliseconds until `done(output)` is true or the process exits. */
function time(v, args, env, done, input) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(v.cmd, [...v.args, ...args], {
      cwd: root,
      env: { ...process.env, ...env, NODE_OPTIONS: v.nodeOptions },
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    if (input !== undefined) p.stdin.end(input);
    let out = '';
    let ms;
    const check = (chunk) => {
      out += chunk;
      if (ms === undefined && done?.(out)) {
        ms = performance.now() - t0;
        p.kill('SIGTERM');
      }
    };
    p.stdout.on('data', check);
    p.stderr.on('data', check);
    p.on('error', reject);
    p.on('exit', (code) => {
      if (ms !== undefined) resolve(ms);
      else if (done || code !== 0) reject(new Error(`${args.join(' ')} exited ${code}:\n${out.slice(-2000)}`));
      else resolve(performance.now() - t0);
    });
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function measure(name, make) {
  for (const [variant, v] of Object.entries(variants)) {
    await make(v, -1); // warm the file system cache
    const xs = [];
    for (let i = 0; i < runs; i++) xs.push(await make(v, i));
    console.log(
      `${name.padEnd(22)} ${variant.padEnd(7)} median ${Math.round(median(xs))} ms  (${xs.map(Math.round).join(', ')})`,
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
