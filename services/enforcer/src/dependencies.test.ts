/**
 * The enforcer's process loads only what it uses: no storage code (`@custos/store`, chDB, the
 * ClickHouse client). A child process imports the enforcer's modules with a resolve hook that
 * records every module resolved, ESM and CommonJS alike; the sink, which does store, is the control.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const LIST_LOADED = `
import { registerHooks } from 'node:module';
import { pathToFileURL } from 'node:url';
const seen = new Set();
registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); seen.add(r.url); return r; } });
await import(pathToFileURL(process.argv[1]).href);
process.stdout.write(JSON.stringify([...seen]));
process.exit(0);
`;

async function loadedBy(entry: string): Promise<string[]> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--conditions=custos-source', '--import', 'tsx', '--input-type=module', '-e', LIST_LOADED, join(root, entry)],
    { cwd: root, maxBuffer: 64 * 1024 * 1024 },
  );
  return JSON.parse(stdout) as string[];
}

const storage = (url: string) => /packages\/store\/|\/chdb|@clickhouse/.test(url);

describe('what the enforcer process loads', () => {
  it('loads no storage code (the sink, which stores, does)', async () => {
    const [enforcer, sink] = await Promise.all([
      loadedBy('services/enforcer/src/index.ts'),
      loadedBy('services/sink/src/index.ts'),
    ]);
    expect(enforcer.some((u) => u.includes('/kafkajs/'))).toBe(true);
    expect(enforcer.filter(storage)).toEqual([]);
    expect(sink.some(storage)).toBe(true);
  });
});
