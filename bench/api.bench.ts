/**
 * `pnpm bench:api`: the query API over 10M stored decisions — subject report and search latency
 * under 50 concurrent connections (autocannon), a direct-ClickHouse peer, and the monthly report's
 * generation time per format. The implementation lives with the API (services/api/src/bench/), where
 * its dependencies are; results go to bench/results/api.json.
 */
import { runApiBench } from '../services/api/src/bench/run.js';

await runApiBench();
