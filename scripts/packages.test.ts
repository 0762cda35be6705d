/**
 * The workspace's package manifests keep the build/publish contract (docs/decisions/built-services.md):
 * every export resolves to its source under the custos-source condition and to dist/ otherwise, at
 * matching paths; the published packages pack only dist/ and depend on nothing private.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = [
  'packages/cli',
  'packages/config',
  'packages/kafka',
  'packages/policy',
  'packages/sdk',
  'packages/store',
  'services/api',
  'services/enforcer',
  'services/sink',
  'schemas',
];
const published = ['@custos/sdk', '@custos/schemas', '@custos/config', '@custos/kafka'];

interface Manifest {
  name: string;
  private?: boolean;
  exports: Record<string, string | Record<string, string>>;
  publishConfig?: { exports?: Record<string, Record<string, string>> };
  files?: string[];
  engines?: { node?: string };
  dependencies?: Record<string, string>;
}
const manifest = (dir: string) => JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) as Manifest;
const all = built.map((dir) => ({ dir, pkg: manifest(dir) }));

describe('package manifests', () => {
  it.each(all)('$dir: each export is { custos-source, types, default } over src/ and dist/', ({ dir, pkg }) => {
    for (const [sub, target] of Object.entries(pkg.exports)) {
      if (typeof target === 'string') {
        // test helpers only (never built): sources for the tests
        expect(target, `${dir} ${sub}`).toMatch(/^\.\/src\/testing\//);
        continue;
      }
      expect(Object.keys(target), `${dir} ${sub}`).toEqual(['custos-source', 'types', 'default']);
      const source = target['custos-source'] as string;
      expect(existsSync(join(root, dir, source)), `${dir} ${sub}: ${source}`).toBe(true);
      const base = source.replace(/^\.\/src\//, './dist/').replace(/\.(ts|js)$/, '');
      expect(target.types).toBe(`${base}.d.ts`);
      expect(target.default).toBe(`${base}.js`);
    }
  });

  it.each(all.filter(({ pkg }) => published.includes(pkg.name)))(
    '$pkg.name is publishable: dist only, Node ≥ 22.12, no private dependency',
    ({ pkg }) => {
      expect(pkg.private).toBeUndefined();
      expect(pkg.files).toContain('dist');
      expect(pkg.engines?.node).toBe('>=22.12');
      const withoutSource = Object.fromEntries(
        Object.entries(pkg.exports).map(([sub, t]) => [
          sub,
          { types: (t as Record<string, string>).types, default: (t as Record<string, string>).default },
        ]),
      );
      expect(pkg.publishConfig?.exports).toEqual(withoutSource);
      for (const dep of Object.keys(pkg.dependencies ?? {}).filter((d) => d.startsWith('@custos/'))) {
        expect(published, `${pkg.name} depends on ${dep}`).toContain(dep);
      }
    },
  );
});
