/**
 * The operations endpoint every Custos service serves the same way: `/metrics` (Prometheus text),
 * `/healthz` (the process answers) and `/readyz` (it does its job: consumers joined, store open).
 * On its own port, by default on 127.0.0.1 only, so that metrics need no credential and are not
 * exposed with the service's own traffic.
 */
import { createServer, type Server } from 'node:http';

/** What a prom-client registry offers (structural: this package does not load prom-client). */
export interface MetricsSource {
  metrics(): Promise<string>;
  contentType: string;
}

export function serveOps(opts: { registry: MetricsSource; port: number; host?: string; ready?: () => boolean }): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405).end();
    } else if (path === '/metrics') {
      opts.registry.metrics().then(
        (body) => res.writeHead(200, { 'content-type': opts.registry.contentType }).end(body),
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
    } else if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const ready = opts.ready?.() ?? true;
      res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(ready ? 'ready\n' : 'not ready\n');
    } else {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '127.0.0.1', () => resolve(server));
  });
}
