import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { serveOps } from './ops-server.js';

describe('serveOps', () => {
  it('serves /metrics, /healthz and /readyz (503 until ready), 404 elsewhere', async () => {
    let ready = false;
    const server = await serveOps({
      registry: { metrics: async () => 'custos_up 1\n', contentType: 'text/plain; version=0.0.4' },
      port: 0,
      ready: () => ready,
    });
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const metrics = await fetch(`${base}/metrics`);
      expect(metrics.status).toBe(200);
      expect(metrics.headers.get('content-type')).toBe('text/plain; version=0.0.4');
      expect(await metrics.text()).toBe('custos_up 1\n');
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect((await fetch(`${base}/readyz`)).status).toBe(503);
      ready = true;
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      expect((await fetch(`${base}/other`)).status).toBe(404);
      expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(405);
    } finally {
      server.close();
    }
  });
});
