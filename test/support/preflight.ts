/**
 * Fails fast, naming what is missing, when Kafka or the schema registry cannot be reached: an e2e
 * run without them must say so rather than time out somewhere downstream.
 */
import { connect } from 'node:net';

/** Whether something accepts TCP connections at `host:port` within `timeoutMs`. */
export function tcpReachable(hostPort: string, timeoutMs: number): Promise<boolean> {
  const [host, port] = hostPort.split(':');
  return new Promise((resolve) => {
    const s = connect({ host, port: Number(port), timeout: timeoutMs });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
    s.once('timeout', () => {
      s.destroy();
      resolve(false);
    });
  });
}

export async function assertInfraReachable(brokers: string[], registryUrl: string): Promise<void> {
  const missing: string[] = [];
  const up = await Promise.all(brokers.map((b) => tcpReachable(b, 2000)));
  if (!up.some(Boolean)) missing.push(`Kafka is not reachable at ${brokers.join(',')}`);
  try {
    const res = await fetch(`${registryUrl.replace(/\/$/, '')}/subjects`, { signal: AbortSignal.timeout(3000) });
    if (!res.ok) missing.push(`schema registry at ${registryUrl} answered HTTP ${res.status}`);
  } catch {
    missing.push(`schema registry is not reachable at ${registryUrl}`);
  }
  if (missing.length > 0) {
    throw new Error(
      `${missing.join('; ')}. Start the local infra with \`pnpm infra:up\` or set KAFKA_BROKERS / SCHEMA_REGISTRY_URL.`,
    );
  }
}
