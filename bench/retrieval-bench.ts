import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { buildBm25Index } from '#core/retrieval/bm25';
import { type Chunk, chunkMarkdown, type SourceDocument } from '#core/retrieval/chunk-markdown';
import * as z from '#shared/zod';
import { seededRandom } from '../sandbox/faults';
import { table, type Verdict } from './report';
import { median, percentile } from './stats';

/**
 * `npx tsx bench/run.ts --only retrieval`: the retrieval core (functions/core/retrieval/) over this repository's own
 * docs (README.md and docs/*.md; the platform guides are left out, as in the question set).
 *
 * (a) ingestion: chunkMarkdown + buildBm25Index of the docs, median of several runs;
 * (b) quality: recall@k and MRR@10 over test/fixtures/retrieval/docs-questions.json (a hit is any chunk of a section
 *     the question lists; ranks are chunk ranks, so two pieces of one section take two places), overall and for the
 *     Chinese and the English questions, with every question not answered in the top 5 listed;
 * (c) scale: synthetic corpora of N chunks made by replicating the docs' chunks with perturbed text (a few sentences
 *     swapped, a unique token appended), so the vocabulary and posting lists grow as a real corpus's would rather than
 *     staying the docs' own: build time, memory held by the index (after a forced GC: JS heap plus typed arrays) and
 *     query latency over the question set.
 *
 * Everything runs in this process, one thing at a time; the figures are CPU time on this machine, not a service's.
 */

/** The question set's file, relative to the repository root. */
export const QUESTIONS_FILE = 'test/fixtures/retrieval/docs-questions.json';
/** The bench's target (issue brief): at least this share of questions answered within the top 5. */
export const RECALL_AT_5_TARGET = 0.8;
const INGEST_RUNS = 7;
const QUALITY_K = 10;

const questionSchema = z.object({
  id: z.string().check(z.minLength(1)),
  lang: z.enum(['en', 'zh']),
  question: z.string().check(z.minLength(1)),
  /** `path#anchor` of each section whose own text answers the question. */
  expected: z.array(z.string().check(z.regex(/^[^#\s]+#[^#\s]+$/))).check(z.minLength(1)),
});
const questionSetSchema = z.object({ description: z.string(), questions: z.array(questionSchema) });
export type DocsQuestion = z.infer<typeof questionSchema>;

/** The labelled questions; throws (with zod's issues) on a malformed file. */
export function loadQuestionSet(rootDir: string): DocsQuestion[] {
  const raw: unknown = JSON.parse(readFileSync(path.join(rootDir, QUESTIONS_FILE), 'utf8'));
  return questionSetSchema.parse(raw).questions;
}

/** README.md and every docs/*.md (not docs/platforms/), in a stable order. */
export function docsCorpus(rootDir: string): SourceDocument[] {
  const docs = readdirSync(path.join(rootDir, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`);
  return ['README.md', ...docs].map((p) => ({ path: p, text: readFileSync(path.join(rootDir, p), 'utf8') }));
}

/** The section id a hit counts for: `path#anchor` (pieces `~n` of one section share it). */
export const sectionOf = (chunk: Chunk): string => `${chunk.path}#${chunk.anchor ?? ''}`;

export interface QualityRow {
  readonly subset: 'all' | 'en' | 'zh';
  readonly questions: number;
  readonly recallAt1: number;
  readonly recallAt5: number;
  readonly recallAt10: number;
  readonly mrrAt10: number;
  readonly verdict: Verdict;
}

export interface MissedQuestion {
  readonly id: string;
  readonly lang: 'en' | 'zh';
  readonly question: string;
  readonly expected: readonly string[];
  /** 1-based chunk rank of the first acceptable chunk within the top 10; null when none is there. */
  readonly rank: number | null;
  /** The first three chunks returned, by id. */
  readonly top: readonly string[];
}

export interface ScaleRow {
  readonly chunks: number;
  readonly buildMs: number;
  /** Memory held by the synthetic chunks themselves (text and objects), MB after a forced GC. */
  readonly corpusMb: number;
  /** Memory the index adds on top of its chunks, MB after a forced GC: JS heap plus typed-array backing stores. */
  readonly indexMb: number;
  /** Of indexMb: the JS heap (term map, per-term arrays) and the typed arrays (postings, per-chunk norms, scores). */
  readonly indexHeapMb: number;
  readonly indexArrayBuffersMb: number;
  readonly queries: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly maxMs: number;
  readonly truncated: boolean;
}

export interface RetrievalBenchResult {
  readonly corpus: { readonly documents: number; readonly chunks: number; readonly chars: number };
  readonly ingestion: {
    readonly runs: number;
    readonly chunkMsMedian: number;
    readonly indexMsMedian: number;
    readonly totalMsMedian: number;
    readonly chunksPerSecond: number;
    readonly totalRunsMs: readonly number[];
  };
  readonly quality: {
    readonly target: { readonly recallAt5: number };
    readonly rows: readonly QualityRow[];
    readonly missed: readonly MissedQuestion[];
  };
  readonly scale: readonly ScaleRow[];
  readonly skipped: readonly string[];
  readonly elapsedMs: number;
}

export interface RetrievalBenchOptions {
  readonly rootDir: string;
  /** Epoch ms: scale rows not started by then are skipped, query series cut short (`truncated`). */
  readonly deadline: number;
  readonly progress: (line: string) => void;
  /** Synthetic corpus sizes, in chunks. @default [10_000, 100_000] */
  readonly scales?: readonly number[];
}

export function runRetrievalBench(options: RetrievalBenchOptions): RetrievalBenchResult {
  const started = Date.now();
  const docs = docsCorpus(options.rootDir);
  const questions = loadQuestionSet(options.rootDir);
  const skipped: string[] = [];

  options.progress(`retrieval: ingesting ${docs.length} documents, ${INGEST_RUNS} runs`);
  const ingestion = measureIngestion(docs);
  const chunks = docs.flatMap((doc) => chunkMarkdown(doc));
  const index = buildBm25Index(chunks);
  const quality = measureQuality(index, questions);

  const scale: ScaleRow[] = [];
  const gc = exposeGc();
  for (const size of options.scales ?? [10_000, 100_000]) {
    if (Date.now() >= options.deadline) {
      skipped.push(`scale ${size}: time budget spent`);
      continue;
    }
    options.progress(`retrieval: synthetic corpus of ${size} chunks`);
    scale.push(measureScale(chunks, questions, size, gc, options.deadline));
  }

  return {
    corpus: { documents: docs.length, chunks: chunks.length, chars: chunks.reduce((n, c) => n + c.text.length, 0) },
    ingestion,
    quality,
    scale,
    skipped,
    elapsedMs: Date.now() - started,
  };
}

function measureIngestion(docs: readonly SourceDocument[]): RetrievalBenchResult['ingestion'] {
  const chunkMs: number[] = [];
  const indexMs: number[] = [];
  const totalMs: number[] = [];
  let count = 0;
  // One unmeasured run first: the regular expressions and the JIT warm up once per process.
  for (let run = 0; run <= INGEST_RUNS; run++) {
    const t0 = performance.now();
    const chunks = docs.flatMap((doc) => chunkMarkdown(doc));
    const t1 = performance.now();
    const index = buildBm25Index(chunks);
    const t2 = performance.now();
    if (index.size !== chunks.length) throw new Error(`index holds ${index.size} of ${chunks.length} chunks`);
    count = chunks.length;
    if (run === 0) continue;
    chunkMs.push(t1 - t0);
    indexMs.push(t2 - t1);
    totalMs.push(t2 - t0);
  }
  const totalMsMedian = median(totalMs);
  return {
    runs: INGEST_RUNS,
    chunkMsMedian: median(chunkMs),
    indexMsMedian: median(indexMs),
    totalMsMedian,
    chunksPerSecond: (count / totalMsMedian) * 1000,
    totalRunsMs: totalMs,
  };
}

/** 1-based rank of the first chunk of an expected section, or null when none is in `hits`. */
function firstRelevantRank(hitSections: readonly string[], expected: readonly string[]): number | null {
  const index = hitSections.findIndex((s) => expected.includes(s));
  return index === -1 ? null : index + 1;
}

function measureQuality(
  index: ReturnType<typeof buildBm25Index>,
  questions: readonly DocsQuestion[],
): RetrievalBenchResult['quality'] {
  const ranked = questions.map((q) => {
    const hits = index.search(q.question, QUALITY_K);
    return {
      q,
      rank: firstRelevantRank(
        hits.map((h) => sectionOf(h.chunk)),
        q.expected,
      ),
      hits,
    };
  });
  const row = (subset: QualityRow['subset']): QualityRow => {
    const rows = ranked.filter((r) => subset === 'all' || r.q.lang === subset);
    const n = rows.length;
    const within = (k: number) =>
      n === 0 ? Number.NaN : rows.filter((r) => r.rank !== null && r.rank <= k).length / n;
    const recallAt5 = within(5);
    return {
      subset,
      questions: n,
      recallAt1: within(1),
      recallAt5,
      recallAt10: within(10),
      mrrAt10: n === 0 ? Number.NaN : rows.reduce((sum, r) => sum + (r.rank === null ? 0 : 1 / r.rank), 0) / n,
      verdict: n === 0 ? 'n/a' : recallAt5 >= RECALL_AT_5_TARGET ? 'PASS' : 'MISS',
    };
  };
  return {
    target: { recallAt5: RECALL_AT_5_TARGET },
    rows: [row('all'), row('en'), row('zh')],
    missed: ranked
      .filter((r) => r.rank === null || r.rank > 5)
      .map((r) => ({
        id: r.q.id,
        lang: r.q.lang,
        question: r.q.question,
        expected: r.q.expected,
        rank: r.rank,
        top: r.hits.slice(0, 3).map((h) => h.chunk.id),
      })),
  };
}

/** Where a sentence ends: `.!?` before white space, or `。！？` (Chinese needs no space). */
const SENTENCE_END = /(?<=[.!?])\s+|(?<=[。！？])\s*/u;

/**
 * Replica `copy` of `base`: up to three random pairs of its sentences swapped and a token no other chunk has appended
 * (`zq<copy in base 36>`), so each replica differs in order and adds one term to the vocabulary, as an id or a name
 * in a real corpus would.
 */
export function perturbChunk(base: Chunk, copy: number, random: () => number): Chunk {
  const sentences = base.text.split(SENTENCE_END);
  for (let swap = 0; swap < 3 && sentences.length > 2; swap++) {
    const i = Math.floor(random() * sentences.length);
    const j = Math.floor(random() * sentences.length);
    const si = sentences[i] ?? '';
    sentences[i] = sentences[j] ?? '';
    sentences[j] = si;
  }
  sentences.push(`zq${copy.toString(36)}`);
  // join() builds a flat string; a template literal would leave a rope that the index's first regex flattens,
  // charging the corpus's own text to the index's heap figure.
  return { ...base, id: `${base.id}~r${copy}`, text: sentences.join(' ') };
}

export function syntheticCorpus(base: readonly Chunk[], size: number, seed = 1): Chunk[] {
  const random = seededRandom(seed);
  const out: Chunk[] = new Array(size);
  for (let i = 0; i < size; i++) {
    const source = base[i % base.length];
    if (!source) throw new Error('an empty base corpus cannot be replicated');
    out[i] = perturbChunk(source, i, random);
  }
  return out;
}

function measureScale(
  base: readonly Chunk[],
  questions: readonly DocsQuestion[],
  size: number,
  gc: () => void,
  deadline: number,
): ScaleRow {
  // Typed arrays keep their data outside the JS heap (`arrayBuffers`), so both are read.
  const memory = () => {
    gc();
    const { heapUsed, arrayBuffers } = process.memoryUsage();
    return { heapUsed, arrayBuffers };
  };
  const m0 = memory();
  const corpus = syntheticCorpus(base, size);
  const m1 = memory();
  const t0 = performance.now();
  const index = buildBm25Index(corpus);
  const buildMs = performance.now() - t0;
  const m2 = memory();

  // One unmeasured pass warms the search path; then passes until 3 or the deadline, whichever first.
  for (const q of questions) index.search(q.question, QUALITY_K);
  const samples: number[] = [];
  series: for (let pass = 0; pass < 3; pass++) {
    for (const q of questions) {
      if (Date.now() >= deadline) break series;
      const t = performance.now();
      index.search(q.question, QUALITY_K);
      samples.push(performance.now() - t);
    }
  }
  const truncated = samples.length < questions.length;
  samples.sort((a, b) => a - b);
  const mb = (bytes: number) => bytes / (1024 * 1024);
  const row: ScaleRow = {
    chunks: index.size,
    buildMs,
    corpusMb: mb(m1.heapUsed - m0.heapUsed + m1.arrayBuffers - m0.arrayBuffers),
    indexMb: mb(m2.heapUsed - m1.heapUsed + m2.arrayBuffers - m1.arrayBuffers),
    indexHeapMb: mb(m2.heapUsed - m1.heapUsed),
    indexArrayBuffersMb: mb(m2.arrayBuffers - m1.arrayBuffers),
    queries: samples.length,
    p50Ms: percentile(samples, 50),
    p95Ms: percentile(samples, 95),
    maxMs: samples.at(-1) ?? Number.NaN,
    truncated,
  };
  // Keep the corpus reachable until the heap was read: the index may hold only parts of it.
  if (corpus.length !== size) throw new Error('synthetic corpus size changed');
  return row;
}

/** `global.gc` without `--expose-gc` on the command line: V8 may take the flag at run time (tsx starts the process). */
function exposeGc(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (existing) return existing;
  v8.setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

export function retrievalReport(result: RetrievalBenchResult): string {
  const { corpus, ingestion, quality } = result;
  const f = (v: number, digits = 2) => (Number.isFinite(v) ? v.toFixed(digits) : '');
  const parts = [
    `Docs retrieval, ingestion (README.md + docs/*.md: chunkMarkdown, default maxChars, then buildBm25Index; median of ${ingestion.runs} runs after a warm-up)`,
    table(
      ['documents', 'chars', 'chunks', 'chunk ms', 'index ms', 'total ms', 'chunks/s'],
      [
        [
          String(corpus.documents),
          String(corpus.chars),
          String(corpus.chunks),
          f(ingestion.chunkMsMedian),
          f(ingestion.indexMsMedian),
          f(ingestion.totalMsMedian),
          f(ingestion.chunksPerSecond, 0),
        ],
      ],
    ),
    '',
    `Docs retrieval, quality (${QUESTIONS_FILE}; BM25 top ${QUALITY_K}, chunk ranks; target recall@5 ≥ ${RECALL_AT_5_TARGET})`,
    table(
      ['questions', 'n', 'recall@1', 'recall@5', 'recall@10', 'MRR@10', 'target'],
      quality.rows.map((r) => [
        r.subset === 'all' ? 'all' : r.subset === 'zh' ? 'Chinese' : 'English',
        String(r.questions),
        f(r.recallAt1, 3),
        f(r.recallAt5, 3),
        f(r.recallAt10, 3),
        f(r.mrrAt10, 3),
        r.verdict,
      ]),
    ),
    `not in the top 5 (${quality.missed.length}): ${
      quality.missed.map((m) => `${m.id}${m.rank === null ? '' : ` (rank ${m.rank})`}`).join(', ') || 'none'
    }`,
    '',
    'Docs retrieval at scale (docs chunks replicated with swapped sentences and a unique token each; memory after a forced GC, JS heap + typed arrays, index = on top of its chunks; queries: the question set, top 10, up to 3 passes)',
    table(
      ['chunks', 'build s', 'corpus MB', 'index MB', 'of it typed arrays MB', 'queries', 'p50 ms', 'p95 ms', 'max ms'],
      result.scale.map((r) => [
        String(r.chunks),
        f(r.buildMs / 1000),
        f(r.corpusMb, 1),
        f(r.indexMb, 1),
        f(r.indexArrayBuffersMb, 1),
        `${r.queries}${r.truncated ? '*' : ''}`,
        f(r.p50Ms),
        f(r.p95Ms),
        f(r.maxMs),
      ]),
    ),
    ...result.skipped.map((why) => `skipped: ${why}`),
    `retrieval section ${(result.elapsedMs / 1000).toFixed(1)} s`,
  ];
  return parts.join('\n');
}

if (require.main === module) {
  const result = runRetrievalBench({
    rootDir: path.resolve(__dirname, '..'),
    deadline: Date.now() + 60_000,
    progress: (line) => process.stderr.write(`[bench] ${line}\n`),
  });
  console.log(retrievalReport(result));
}
