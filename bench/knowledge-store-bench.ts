import path from 'node:path';
import { type Chunk, chunkMarkdown } from '#core/retrieval/chunk-markdown';
import { type ChunkToStore, KnowledgeStore } from '#knowledge/store/knowledge-store';
import { seededRandom } from '../sandbox/faults';
import { createPgliteSql } from '../sandbox/knowledge/pglite-sql';
import { docsCorpus, loadQuestionSet } from './retrieval-bench';
import { percentile } from './stats';

/**
 * The knowledge store (functions/knowledge/store/) on PGlite + pgvector in this process's worker thread: ingestion
 * throughput and hybrid-search latency at a given corpus size.
 *
 * The corpus is this repository's README.md and docs/*.md, chunked by chunkMarkdown and repeated under varied
 * document keys (`copy-<n>/<path>`, one extra term per copy so the vocabulary and posting lists grow) until `chunks`
 * chunks; embeddings are random unit vectors (seeded). Ingestion is `replaceDocument` per document: chunks,
 * postings, statistics and the HNSW index, each document in its own transaction. Searches are hybrid (BM25 + vector,
 * k 10, 50 candidates per list) over the labelled docs questions with random unit query embeddings, one at a time,
 * after a few unmeasured warm-up searches.
 *
 * PGlite is single-threaded WebAssembly: the figures bound what the sandbox does, not Aurora's.
 * Run alone: `npx tsx bench/knowledge-store-bench.ts [chunks] [dimensions] [queries]`.
 */

export interface KnowledgeStoreBenchOptions {
  readonly chunks: number;
  readonly dimensions: number;
  readonly queries: number;
}

export interface KnowledgeStoreBenchResult {
  readonly chunks: number;
  readonly ingestChunksPerSec: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
}

const ROOT = path.resolve(__dirname, '..');
const KB = 'bench';
const WARM_UP_SEARCHES = 5;

function randomUnitVector(random: () => number, dimensions: number): Float32Array {
  const vector = new Float32Array(dimensions);
  let norm = 0;
  for (let i = 0; i < dimensions; i++) {
    const value = random() * 2 - 1;
    vector[i] = value;
    norm += value * value;
  }
  const scale = 1 / Math.sqrt(norm);
  for (let i = 0; i < dimensions; i++) vector[i] = vector[i]! * scale;
  return vector;
}

/** The docs' chunks grouped by file, in a stable order. */
function docsChunks(): Chunk[][] {
  return docsCorpus(ROOT)
    .map((doc) => chunkMarkdown(doc))
    .filter((chunks) => chunks.length > 0);
}

export async function runKnowledgeStoreBench(options: KnowledgeStoreBenchOptions): Promise<KnowledgeStoreBenchResult> {
  const random = seededRandom(20_251);
  const sources = docsChunks();
  const questions = loadQuestionSet(ROOT).map((q) => q.question);
  const sql = await createPgliteSql();
  try {
    const store = new KnowledgeStore(sql, { dimensions: options.dimensions });
    await store.migrate();

    let stored = 0;
    const started = performance.now();
    for (let copy = 0; stored < options.chunks; copy++) {
      for (const chunks of sources) {
        if (stored >= options.chunks) break;
        const taken = chunks.slice(0, options.chunks - stored);
        const first = taken[0]!;
        const toStore: ChunkToStore[] = taken.map((c) => ({
          chunkId: c.id,
          title: c.title,
          text: `${c.text}\ncopy${copy}`,
          embedding: randomUnitVector(random, options.dimensions),
          ...(c.section === undefined ? {} : { section: c.section }),
        }));
        await store.replaceDocument(
          KB,
          { key: `copy-${copy}/${first.path}`, version: '1', title: first.title },
          toStore,
        );
        stored += taken.length;
      }
    }
    const ingestSeconds = (performance.now() - started) / 1000;

    const search = (i: number) =>
      store.search({
        kbIds: [KB],
        text: questions[i % questions.length]!,
        embedding: randomUnitVector(random, options.dimensions),
        k: 10,
      });
    for (let i = 0; i < WARM_UP_SEARCHES; i++) await search(i);
    const latencies: number[] = [];
    for (let i = 0; i < options.queries; i++) {
      const t0 = performance.now();
      await search(i);
      latencies.push(performance.now() - t0);
    }
    latencies.sort((a, b) => a - b);
    return {
      chunks: stored,
      ingestChunksPerSec: stored / ingestSeconds,
      p50Ms: percentile(latencies, 50),
      p95Ms: percentile(latencies, 95),
    };
  } finally {
    await sql.close();
  }
}

if (require.main === module) {
  const [chunks = '10000', dimensions = '1024', queries = '200'] = process.argv.slice(2);
  runKnowledgeStoreBench({ chunks: Number(chunks), dimensions: Number(dimensions), queries: Number(queries) }).then(
    (result) => console.log(JSON.stringify(result)),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
