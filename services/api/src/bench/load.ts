/**
 * One autocannon run in a process of its own (so the load generator does not share the API's event
 * loop): reads a JSON config from argv[2], cycles through the given paths, prints the result as JSON.
 */
import autocannon from 'autocannon';

interface LoadConfig {
  url: string;
  paths: string[];
  headers: Record<string, string>;
  connections: number;
  durationS: number;
}

const cfg = JSON.parse(process.argv[2] ?? '{}') as LoadConfig;
let i = 0;
const latencies: number[] = [];
let finish: (r: autocannon.Result) => void = () => {};
let fail: (e: unknown) => void = () => {};
const done = new Promise<autocannon.Result>((res, rej) => {
  finish = res;
  fail = rej;
});
const instance = autocannon(
  {
    url: cfg.url,
    connections: cfg.connections,
    duration: cfg.durationS,
    headers: cfg.headers,
    requests: [
      {
        method: 'GET',
        setupRequest: (req) => {
          const path = cfg.paths[i++ % cfg.paths.length] as string;
          return { ...req, path };
        },
      },
    ],
  },
  (err, r) => (err ? fail(err) : finish(r)),
);
instance.on('response', (_client: unknown, _status: number, _bytes: number, responseTime: number) =>
  latencies.push(responseTime),
);
const result = await done;
latencies.sort((a, b) => a - b);
const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? Number.NaN;
process.stdout.write(
  `${JSON.stringify({
    p50: q(50),
    p95: q(95),
    p99: q(99),
    mean: result.latency.average,
    rps: result.requests.average,
    total: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  })}\n`,
);
