// Entry of the judging worker thread: loads TypeScript through tsx (the services run on tsx), then
// the worker proper. Kept as plain JS so it starts the same under tsx, vitest or plain node.
import { register } from 'tsx/esm/api';

register();
await import('./judge-worker-main.ts');
