/** Test child: opens a chDB directory and prints counts and the verification report as JSON. */
import { parseEnv } from '@custos/config';
import { createStore, queryRows, storeEnv, trustedCheckpointKeys, verifyRange } from '@custos/store';

const store = createStore({ database: process.env.CLICKHOUSE_DATABASE ?? 'custos', chdbPath: process.env.CHDB_PATH });
try {
  const [c] = await queryRows<{ n: number; distinct: number }>(
    store,
    `SELECT count() AS n, uniqExact(event_id) AS distinct FROM ${store.table('decisions')}`,
  );
  const report = await verifyRange(store, { trusted: trustedCheckpointKeys(parseEnv(storeEnv)) });
  process.stdout.write(`${JSON.stringify({ n: Number(c?.n), distinct: Number(c?.distinct), report })}\n`);
} finally {
  await store.close();
}
