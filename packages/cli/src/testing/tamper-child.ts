/**
 * Test child (tamper.int.test.ts): opens the chDB directory at CHDB_PATH and tampers with it the way
 * someone with full write access to ClickHouse could, one case per run (`argv[2]`); prints what it
 * changed as JSON. chDB binds one directory per process, so the test process never opens it itself.
 */
import { createPrivateKey } from 'node:crypto';
import {
  canonical,
  createStore,
  type HeadFields,
  INSERT_COLUMNS,
  insertCheckpoint,
  insertHead,
  insertLine,
  linkHash,
  listCheckpoints,
  listHeads,
  payloadHash,
  queryRows,
  READ_MODEL_TABLE,
  readStored,
  SEARCH_TABLE,
  type Store,
  type StoredDecision,
  signCheckpoint,
  signHead,
} from '@custos/store';

const kind = process.argv[2] ?? '';
const n = 5;
const store = createStore({ database: process.env.CLICKHOUSE_DATABASE ?? 'custos', chdbPath: process.env.CHDB_PATH });
const t = (x: string) => store.table(x);
const sql = (q: string) => store.client.command({ query: q, clickhouse_settings: { mutations_sync: '2' } });
const rowAt = async (s: Store, chain: number, seq: number) =>
  (await readStored(s, 'kafka_partition = {c:UInt16} AND chain_seq = {s:UInt64}', { c: chain, s: seq }))[0] as StoredDecision;
const insertRaw = (rows: StoredDecision[]) =>
  store.insertRaw({
    table: t('decisions'),
    columns: INSERT_COLUMNS,
    format: 'JSONCompactEachRow',
    body: Buffer.from(rows.map((r) => insertLine(canonical(r), r.chain_hash)).join('\n')),
  });
/** deletes the read models' copies of these events too, as a careful attacker would */
const dropFromReadModel = async (where: string) => {
  const ids = await queryRows<{ e: string }>(store, `SELECT toString(event_id) AS e FROM ${t('decisions')} WHERE ${where}`);
  if (ids.length > 0)
    for (const model of [READ_MODEL_TABLE, SEARCH_TABLE])
      await sql(`ALTER TABLE ${t(model)} DELETE WHERE event_id IN (${ids.map((r) => `'${r.e}'`).join(', ')})`);
};

try {
  const heads = await queryRows<{ c: number; s: number }>(
    store,
    `SELECT kafka_partition AS c, toUInt64(max(chain_seq)) AS s FROM ${t('decisions')} GROUP BY c ORDER BY c`,
  );
  const chain = Number(heads[0]?.c ?? 0);
  const head = Number(heads[0]?.s ?? 0);
  let out: Record<string, unknown> = { chain };
  switch (kind) {
    case 'modified': {
      const { event_id } = await rowAt(store, chain, 10);
      await sql(`ALTER TABLE ${t('decisions')} UPDATE purpose = 'marketing' WHERE kafka_partition = ${chain} AND chain_seq = 10`);
      out = { chain, seq: 10, eventId: event_id };
      break;
    }
    case 'deleted-middle': {
      await dropFromReadModel(`kafka_partition = ${chain} AND chain_seq = 20`);
      await sql(`ALTER TABLE ${t('decisions')} DELETE WHERE kafka_partition = ${chain} AND chain_seq = 20`);
      out = { chain, seq: 20 };
      break;
    }
    case 'newest-rows':
    case 'newest-rows-and-checkpoints': {
      const where = `kafka_partition = ${chain} AND chain_seq > ${head - n}`;
      if (kind === 'newest-rows-and-checkpoints') {
        // Every checkpoint reaching into the deleted rows, so what remains in ClickHouse is consistent.
        await sql(`ALTER TABLE ${t('checkpoints')} DELETE WHERE chain = ${chain} AND last_seq > ${head - n}`);
        await dropFromReadModel(where);
      }
      await sql(`ALTER TABLE ${t('decisions')} DELETE WHERE ${where}`);
      out = { chain, seq: head - n + 1, toSeq: head };
      break;
    }
    case 'whole-chain': {
      await dropFromReadModel(`kafka_partition = ${chain}`);
      await sql(`ALTER TABLE ${t('checkpoints')} DELETE WHERE chain = ${chain}`);
      await sql(`ALTER TABLE ${t('heads')} DELETE WHERE 1`);
      await sql(`ALTER TABLE ${t('decisions')} DELETE WHERE kafka_partition = ${chain}`);
      out = { chain, seq: 1, toSeq: head };
      break;
    }
    case 'truncated': {
      await sql(`TRUNCATE TABLE ${t('decisions')}`);
      await sql(`TRUNCATE TABLE ${t(READ_MODEL_TABLE)}`);
      await sql(`TRUNCATE TABLE ${t(SEARCH_TABLE)}`);
      await sql(`TRUNCATE TABLE ${t('checkpoints')}`);
      await sql(`TRUNCATE TABLE ${t('heads')}`);
      out = { chains: heads.map((h) => Number(h.c)) };
      break;
    }
    case 'reordered': {
      const a = await rowAt(store, chain, 30);
      const b = await rowAt(store, chain, 31);
      await sql(`ALTER TABLE ${t('decisions')} DELETE WHERE kafka_partition = ${chain} AND chain_seq IN (30, 31)`);
      await insertRaw([
        { ...b, chain_seq: 30 },
        { ...a, chain_seq: 31 },
      ]);
      out = { chain, seq: 30 };
      break;
    }
    case 'forged-row': {
      // A fabricated access appended after the head, hashed onto it like a genuine one.
      const last = await rowAt(store, chain, head);
      const fake: StoredDecision = {
        ...last,
        event_id: '00000000-0000-7000-8000-00000000fa1e',
        actor_id: 's-ghost',
        kafka_offset: String(BigInt(last.kafka_offset) + 1n),
        chain_seq: head + 1,
      };
      fake.chain_hash = linkHash(last.chain_hash, canonical(fake));
      await insertRaw([fake]);
      out = { chain, seq: head + 1, eventId: fake.event_id };
      break;
    }
    case 'forged-checkpoint': {
      // A checkpoint whose payload was edited after signing (it now vouches for other rows).
      const [cp] = await listCheckpoints(store, { chain });
      if (!cp) throw new Error('no checkpoint');
      const payload = cp.payload.replace(/"records":\d+/, '"records":1');
      await store.client.insert({
        table: t('checkpoints'),
        values: [
          {
            chain: cp.chain,
            last_seq: cp.lastSeq,
            last_hash: cp.lastHash,
            prev_seq: cp.prevSeq,
            prev_hash: cp.prevHash,
            records: 1,
            last_offset: cp.lastOffset,
            topic: cp.topic,
            decided_from: cp.decidedFrom.replace('T', ' ').replace('Z', ''),
            decided_to: cp.decidedTo.replace('T', ' ').replace('Z', ''),
            occurred_from: cp.occurredFrom.replace('T', ' ').replace('Z', ''),
            occurred_to: cp.occurredTo.replace('T', ' ').replace('Z', ''),
            created_at: cp.createdAt.replace('T', ' ').replace('Z', ''),
            key_id: cp.keyId,
            payload,
            signature: cp.signature,
          },
        ],
        format: 'JSONEachRow',
      });
      out = { chain, seq: cp.lastSeq };
      break;
    }
    case 'rewritten-head':
    case 'replayed-checkpoint': {
      // The key's holder (the deployment's own key) rewrites the newest rows of a chain, re-chains them
      // and re-signs their checkpoint, "vouching for" the rewritten history. 'rewritten-head' also puts
      // a head over it in place of the newest one (same predecessor, same seqs); 'replayed-checkpoint'
      // leaves the heads alone, as if the checkpoint were replayed from another store.
      const key = createPrivateKey(process.env.CHECKPOINT_PRIVATE_KEY ?? '');
      const lastCp = (await listCheckpoints(store, { chain })).at(-1);
      if (!lastCp) throw new Error('no checkpoint');
      const from = lastCp.prevSeq + 1;
      const rows = await readStored(store, 'kafka_partition = {c:UInt16} AND chain_seq BETWEEN {lo:UInt64} AND {hi:UInt64}', {
        c: chain,
        lo: from,
        hi: lastCp.lastSeq,
      });
      let prev = lastCp.prevHash;
      const rewritten = rows.map((r, i) => {
        const x = { ...r, ...(i === 0 ? { purpose: 'marketing' } : {}) };
        x.chain_hash = linkHash(prev, canonical(x));
        prev = x.chain_hash;
        return x;
      });
      await sql(`ALTER TABLE ${t('decisions')} DELETE WHERE kafka_partition = ${chain} AND chain_seq >= ${from}`);
      await sql(`ALTER TABLE ${t('checkpoints')} DELETE WHERE chain = ${chain} AND last_seq >= ${lastCp.lastSeq}`);
      await insertRaw(rewritten);
      const f = JSON.parse(lastCp.payload);
      const replay = signCheckpoint({ ...f, lastHash: prev, v: undefined, kind: undefined, keyId: undefined }, key);
      await insertCheckpoint(store, replay);
      if (kind === 'rewritten-head') {
        const newest = (await listHeads(store)).at(-1);
        if (!newest) throw new Error('no head');
        const hf = JSON.parse(newest.payload) as HeadFields;
        await store.client.command({
          query: `ALTER TABLE ${t('heads')} DELETE WHERE payload = {p:String}`,
          query_params: { p: newest.payload },
          clickhouse_settings: { mutations_sync: '2' },
        });
        await insertHead(
          store,
          signHead(
            {
              topic: hf.topic,
              prevHead: hf.prevHead,
              open: hf.open,
              closed: hf.closed,
              createdAt: hf.createdAt,
              chains: hf.chains.map((e) =>
                e.chain === chain
                  ? { chain, lastSeq: lastCp.lastSeq, lastHash: prev, checkpoint: payloadHash(replay.payload) }
                  : e,
              ),
            },
            key,
          ),
        );
      }
      out = { chain, seq: from, toSeq: lastCp.lastSeq };
      break;
    }
    case 'search-read-model': {
      // The search's read model alone: `decisions`, its chain and the subject read model untouched.
      const [a, b, c] = [await rowAt(store, chain, 12), await rowAt(store, chain, 22), await rowAt(store, chain, 32)];
      // altered: a search by its purpose would no longer find it
      await sql(`ALTER TABLE ${t(SEARCH_TABLE)} UPDATE purpose = 'analytics-x' WHERE event_id = '${a.event_id}'`);
      // deleted: the search would leave an access out
      await sql(`ALTER TABLE ${t(SEARCH_TABLE)} DELETE WHERE event_id = '${b.event_id}'`);
      // inserted: an access nobody made, copied from a genuine row under another event id
      const fake = '00000000-0000-7000-8000-00000000fa2e';
      await sql(
        `INSERT INTO ${t(SEARCH_TABLE)} SELECT * REPLACE (toUUID('${fake}') AS event_id) FROM (SELECT * FROM ${t(SEARCH_TABLE)} WHERE event_id = '${c.event_id}')`,
      );
      out = { chain, altered: a.event_id, deleted: b.event_id, inserted: fake };
      break;
    }
    default:
      throw new Error(`unknown case ${kind}`);
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
} finally {
  await store.close();
}
