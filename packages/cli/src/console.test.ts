import { describe, expect, it } from 'vitest';
import { banner, statusText } from './console.js';

describe('the first-run banner and status line', () => {
  it('says what runs where, the console URL, and the demo key with how to use it', () => {
    const text = banner({
      services: ['enforcer', 'sink', 'api'],
      brokers: ['127.0.0.1:9092'],
      registry: 'http://127.0.0.1:8081/apis/ccompat/v7',
      store: { mode: 'embedded', where: '.data/chdb' },
      api: { url: 'http://127.0.0.1:8080' },
      policyVersion: 'spera-2026.11.1+sha256:6fdd29d19d06',
      demo: { rate: 300, key: 'demo-abc' },
    });
    expect(text).toContain('runs     enforcer, sink, api');
    expect(text).toContain('console  http://127.0.0.1:8080/console');
    expect(text).toContain('demo key demo-abc');
    expect(text).toContain(
      "curl -H 'Authorization: Bearer demo-abc' -H 'X-Purpose: security' 'http://127.0.0.1:8080/v1/accesses?limit=20'",
    );
    expect(banner({ services: ['enforcer'], brokers: ['b:9092'], registry: 'r' })).not.toMatch(/console|demo key/);
  });

  it('shows events/s in, decisions, stored and lag', () => {
    expect(statusText({ eventsPerS: 299.6, decisions: 12345, stored: 12000, lag: 0 })).toBe(
      'in 300 events/s · decisions 12,345 · stored 12,000 · lag 0',
    );
    expect(statusText({ stored: 5 })).toBe('stored 5');
  });
});
