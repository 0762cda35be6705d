// Entry of the heavy-work thread (heavy.ts), plain JS so that it starts the same under tsx, vitest or
// plain node. Built (dist/), the compiled worker sits beside it. From sources (tests, `pnpm dev`) it
// loads the TypeScript through tsx; workspace packages then resolve to their sources through the
// custos-source condition, which the thread takes from NODE_OPTIONS (it is started with execArgv: []).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const source = new URL('./heavy-worker-main.ts', import.meta.url);
if (existsSync(fileURLToPath(source))) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
} else {
  await import('./heavy-worker-main.js');
}
