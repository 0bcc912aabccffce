import { pruneRemovedBases } from '#knowledge/prune';
import { KnowledgeStore } from '#knowledge/store/knowledge-store';
import type { SqlClient } from '#knowledge/store/sql-client';
import { createPgliteSql } from '../../../sandbox/knowledge/pglite-sql';

/** A base removed from the configuration is deleted from the store on the next ingestion run; configured ones stay. */

const SETUP_TIMEOUT_MS = 60_000;
let sql: SqlClient & { close(): Promise<void> };
let store: KnowledgeStore;

beforeAll(async () => {
  sql = await createPgliteSql();
  store = new KnowledgeStore(sql, { dimensions: 2 });
  await store.migrate();
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await sql?.close();
});

const doc = (key: string) => ({ key, version: 'v1', title: key });
const chunk = (chunkId: string, text: string) => ({ chunkId, title: 'Guide', text, embedding: [1, 0] });

it('deletes every row of a base no longer configured and leaves the configured ones whole', async () => {
  await store.replaceDocument('hr', doc('leave.md'), [chunk('a', 'annual leave policy wombat')]);
  await store.replaceDocument('hr', doc('travel.md'), [chunk('b', 'travel booking wombat')]);
  await store.replaceDocument('eng', doc('deploy.md'), [chunk('c', 'deploy pipeline wombat')]);
  expect(await store.storedKnowledgeBases()).toEqual(['eng', 'hr']);

  const pruned = await pruneRemovedBases(store, ['eng', 'sales']);

  expect(pruned).toEqual([{ kbId: 'hr', documents: 2 }]);
  expect(await store.storedKnowledgeBases()).toEqual(['eng']);
  expect(await store.stats('hr')).toEqual({ documents: 0, chunks: 0 });
  expect(await store.search({ kbIds: ['hr'], text: 'wombat', embedding: [1, 0], k: 5 })).toEqual([]);
  const kept = await store.search({ kbIds: ['eng'], text: 'wombat', k: 5 });
  expect(kept.map((hit) => hit.docKey)).toEqual(['deploy.md']);
  // Postings and chunks went with the documents, not only the document rows.
  const [left] = await sql.query<{ n: number }>(
    "SELECT (SELECT count(*) FROM kb_postings WHERE kb_id = 'hr') + (SELECT count(*) FROM kb_chunks WHERE kb_id = 'hr') AS n",
  );
  expect(Number(left?.n)).toBe(0);

  expect(await pruneRemovedBases(store, ['eng'])).toEqual([]);
});
