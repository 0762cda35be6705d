/**
 * `pnpm bench:api`: the query API over 10M stored decisions — subject report and search latency
 * under 50 concurrent connections (autocannon), a direct-ClickHouse peer, and the monthly report's
 * generation time per format. The implementation lives with the API (services/api/src/bench/), where
 * its dependencies are; results go to bench/results/api.json.
 */
import { benchArgs } from './cli-args.js';

benchArgs(
  {
    command: 'pnpm bench:api',
    summary:
      'The query API over stored decisions (embedded chDB, generated inside ClickHouse): the subject access report and\n' +
      'an accesses search under concurrent connections (autocannon in a separate process), the same subject query sent\n' +
      'straight to ClickHouse as a peer, and the monthly report’s generation time per format. Set through the\n' +
      'environment: BENCH_ROWS (10000000), BENCH_CHDB_PATH (.data/bench-chdb; reused when it already holds BENCH_ROWS\n' +
      'rows), BENCH_DURATION_S (10), BENCH_REPS (3), BENCH_CONNECTIONS (50).',
    prints: 'latency p50/p95/p99 and requests/s per query, the peer’s, report times; writes bench/results/api.json.',
  },
  {},
);
// imported after the arguments are checked: it loads the embedded ClickHouse engine
const { runApiBench } = await import('../services/api/src/bench/run.js');
await runApiBench();
