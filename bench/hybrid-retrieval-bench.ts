import path from 'node:path';
import { chunkMarkdown } from '#core/retrieval/chunk-markdown';
import { createHashingEmbedder } from '#knowledge/embeddings/hashing-embedder';
import { embeddingText } from '#knowledge/ingest';
import { KnowledgeStore } from '#knowledge/store/knowledge-store';
import { createPgliteSql } from '../sandbox/knowledge/pglite-sql';
import { table } from './report';
import { type DocsQuestion, docsCorpus, loadQuestionSet, RECALL_AT_5_TARGET } from './retrieval-bench';
import { percentile } from './stats';

/**
 * Retrieval quality of the knowledge store as the knowledge skill queries it (functions/knowledge/store/: BM25 in SQL,
 * pgvector, Reciprocal Rank Fusion) over this repository's docs and the labelled question set, on PGlite with the
 * sandbox's hashing embedder: lexical only, vectors only, and the hybrid the skill runs. A hit is any chunk of a
 * section the question lists, as in `retrieval-bench.ts`, so the lexical row is comparable with the in-memory index's.
 * The hashing embedder is not a semantic model; a real embedding model's row would differ (docs/KNOWLEDGE.md).
 */

export type RetrievalMode = 'lexical' | 'vector' | 'hybrid';

export interface HybridQualityRow {
  readonly mode: RetrievalMode;
  readonly questions: number;
  readonly recallAt5: number;
  readonly recallAt5En: number;
  readonly recallAt5Zh: number;
  readonly mrrAt10: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
}

export interface HybridRetrievalResult {
  readonly chunks: number;
  readonly ingestMs: number;
  readonly dimensions: number;
  readonly rows: readonly HybridQualityRow[];
}

const ROOT = path.resolve(__dirname, '..');
const KB = 'docs';
const K = 10;

export async function runHybridRetrievalBench(dimensions = 256): Promise<HybridRetrievalResult> {
  const sql = await createPgliteSql();
  try {
    const embedder = createHashingEmbedder({ dimensions });
    const store = new KnowledgeStore(sql, { dimensions });
    await store.migrate();
    const started = performance.now();
    let chunks = 0;
    for (const doc of docsCorpus(ROOT)) {
      const docChunks = chunkMarkdown(doc);
      if (docChunks.length === 0) continue;
      const vectors = await embedder.embed(docChunks.map(embeddingText), 'document');
      await store.replaceDocument(
        KB,
        { key: doc.path, version: 'v1', title: docChunks[0]?.title ?? doc.path },
        docChunks.map((chunk, i) => ({
          chunkId: chunk.id,
          title: chunk.title,
          ...(chunk.section ? { section: chunk.section } : {}),
          text: chunk.text,
          embedding: vectors[i] ?? new Float32Array(dimensions),
        })),
      );
      chunks += docChunks.length;
    }
    const ingestMs = performance.now() - started;
    const questions = loadQuestionSet(ROOT);
    const rows: HybridQualityRow[] = [];
    for (const mode of ['lexical', 'vector', 'hybrid'] as const) {
      rows.push(await measure(mode, questions, store, embedder));
    }
    return { chunks, ingestMs, dimensions, rows };
  } finally {
    await sql.close();
  }
}

async function measure(
  mode: RetrievalMode,
  questions: readonly DocsQuestion[],
  store: KnowledgeStore,
  embedder: ReturnType<typeof createHashingEmbedder>,
): Promise<HybridQualityRow> {
  const ranks: { lang: DocsQuestion['lang']; rank: number | null }[] = [];
  const latencies: number[] = [];
  for (const q of questions) {
    const started = performance.now();
    const [embedding] = mode === 'lexical' ? [] : await embedder.embed([q.question], 'query');
    // Vectors only: a query text with no terms leaves the lexical list empty, so the fusion is the vector list.
    const hits = await store.search({
      kbIds: [KB],
      text: mode === 'vector' ? '' : q.question,
      ...(embedding ? { embedding } : {}),
      k: K,
    });
    latencies.push(performance.now() - started);
    const sections = hits.map((hit) => `${hit.docKey}#${sectionAnchor(hit.chunkId)}`);
    const index = sections.findIndex((section) => q.expected.includes(section));
    ranks.push({ lang: q.lang, rank: index === -1 ? null : index + 1 });
  }
  const recall = (lang?: DocsQuestion['lang']) => {
    const subset = ranks.filter((r) => lang === undefined || r.lang === lang);
    return subset.filter((r) => r.rank !== null && r.rank <= 5).length / Math.max(1, subset.length);
  };
  latencies.sort((a, b) => a - b);
  return {
    mode,
    questions: ranks.length,
    recallAt5: recall(),
    recallAt5En: recall('en'),
    recallAt5Zh: recall('zh'),
    mrrAt10: ranks.reduce((sum, r) => sum + (r.rank === null ? 0 : 1 / r.rank), 0) / Math.max(1, ranks.length),
    p50Ms: percentile(latencies, 50),
    p95Ms: percentile(latencies, 95),
  };
}

/** A chunk id is `path#anchor` plus `~n` for later pieces: the section's anchor. */
function sectionAnchor(chunkId: string): string {
  const at = chunkId.indexOf('#');
  return at === -1 ? '' : chunkId.slice(at + 1).replace(/~\d+$/, '');
}

export function hybridRetrievalReport(result: HybridRetrievalResult): string {
  return [
    `Knowledge store retrieval quality (PGlite + pgvector, hashing embedder ${result.dimensions} dims; ${result.chunks} chunks of README.md and docs/*.md ingested in ${Math.round(result.ingestMs)} ms; recall@5 target ${RECALL_AT_5_TARGET})`,
    table(
      ['mode', 'questions', 'recall@5', 'en', 'zh', 'MRR@10', 'query p50 ms', 'query p95 ms', 'target'],
      result.rows.map((r) => [
        r.mode,
        String(r.questions),
        r.recallAt5.toFixed(3),
        r.recallAt5En.toFixed(3),
        r.recallAt5Zh.toFixed(3),
        r.mrrAt10.toFixed(3),
        r.p50Ms.toFixed(2),
        r.p95Ms.toFixed(2),
        r.recallAt5 >= RECALL_AT_5_TARGET ? 'PASS' : 'MISS',
      ]),
    ),
  ].join('\n');
}
