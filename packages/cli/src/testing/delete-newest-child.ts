/**
 * Test child (verify-cli.int.test.ts): opens the chDB directory at CHDB_PATH and deletes the newest
 * `argv[2]` rows of the lowest chain together with the checkpoints covering them — rows deleted after
 * the last checkpoint, which only the decisions topic or the witness can reveal — the heads
 * naming those checkpoints, and their copies in the subject
 * report's read model, as a careful attacker would (`verify` compares the two). Prints
 * `{ chain, fromSeq, toSeq, offsets }`.
 * chDB binds one directory per process, so the test process never opens it itself.
 */
import { createStore, queryRows, READ_MODEL_TABLE, SEARCH_TABLE } from '@custos/store';

const n = Number(process.argv[2] ?? 2);
const store = createStore({ database: process.env.CLICKHOUSE_DATABASE ?? 'custos', chdbPath: process.env.CHDB_PATH });
try {
  const [head] = await queryRows<{ c: number; s: number }>(
    store,
    `SELECT kafka_partition AS c, toUInt64(max(chain_seq)) AS s FROM ${store.table('decisions')} GROUP BY c ORDER BY c LIMIT 1`,
  );
  if (!head) throw new Error('no rows stored');
  const chain = Number(head.c);
  const last = Number(head.s);
  const newest = await queryRows<{ o: string; e: string }>(
    store,
    `SELECT toString(kafka_offset) AS o, toString(event_id) AS e FROM ${store.table('decisions')} WHERE kafka_partition = ${chain} AND chain_seq > ${last - n} ORDER BY chain_seq`,
  );
  const offsets = newest.map((r) => r.o);
  const settings = { mutations_sync: '2' };
  await store.client.command({
    query: `ALTER TABLE ${store.table('checkpoints')} DELETE WHERE chain = ${chain} AND last_seq > ${last - n}`,
    clickhouse_settings: settings,
  });
  // …and every head, since heads name the newest checkpoint of each chain
  await store.client.command({ query: `ALTER TABLE ${store.table('heads')} DELETE WHERE 1`, clickhouse_settings: settings });
  await store.client.command({
    query: `ALTER TABLE ${store.table('decisions')} DELETE WHERE kafka_partition = ${chain} AND chain_seq > ${last - n}`,
    clickhouse_settings: settings,
  });
  for (const model of [READ_MODEL_TABLE, SEARCH_TABLE]) {
    await store.client.command({
      query: `ALTER TABLE ${store.table(model)} DELETE WHERE event_id IN (${newest.map((r) => `'${r.e}'`).join(', ')})`,
      clickhouse_settings: settings,
    });
  }
  process.stdout.write(`${JSON.stringify({ chain, fromSeq: last - n + 1, toSeq: last, offsets })}\n`);
} finally {
  await store.close();
}
