import type { Chunk } from './chunk-markdown';
import { tokenize } from './tokenize';

/**
 * An in-memory Okapi BM25 index over chunks (k1 1.2, b 0.75), built once per corpus and searched many times.
 *
 * A chunk's terms are tokenize(title) and tokenize(section), each counted twice (a heading says what a section is
 * about), plus tokenize(text); its length is the number of those terms. idf is Lucene's non-negative form
 * ln(1 + (N − df + 0.5) / (df + 0.5)), so a term in most chunks still counts a little and never against a chunk.
 *
 * Layout, sized for ~100k chunks of ~1 KB: the postings of all terms in two flat typed arrays (chunk index, term
 * frequency) with per-term offsets, in chunk order; the length normalisation k1·(1 − b + b·len/avgLen) precomputed per
 * chunk. A search touches only the postings of the query's distinct terms, accumulates into a reused score array,
 * and keeps the best k in a bounded heap (O(touched · log k)), never sorting all scores.
 */

export interface SearchHit {
  readonly chunk: Chunk;
  readonly score: number;
}

export interface Bm25Index {
  /** The number of chunks indexed. */
  readonly size: number;
  /**
   * The at most `k` chunks with the highest positive score for `query`, best first; equal scores in chunk order.
   * Query terms are de-duplicated. A query with no terms, or `k` < 1, finds nothing. Not re-entrant across
   * threads (it is synchronous, so one JS thread is safe).
   */
  search(query: string, k: number): SearchHit[];
}

const K1 = 1.2;
const B = 0.75;
/** Heading terms count this many times: a match in a heading outweighs one in the body. */
const HEADING_WEIGHT = 2;

/** A growable Uint32Array, to collect postings without one JS number per slot. */
class U32Buffer {
  private data = new Uint32Array(1024);
  length = 0;

  push(value: number): void {
    if (this.length === this.data.length) {
      const grown = new Uint32Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = value;
  }

  get(i: number): number {
    return this.data[i] ?? 0;
  }
}

export function buildBm25Index(corpus: readonly Chunk[]): Bm25Index {
  const chunks = corpus.slice(); // the caller's array may change later; the index must not
  const n = chunks.length;
  const termIds = new Map<string, number>();
  const df: number[] = [];
  // Pass 1: each chunk's distinct (term, tf) pairs, appended in chunk order.
  const pairTerm = new U32Buffer();
  const pairTf = new U32Buffer();
  const pairsEnd = new Uint32Array(n); // chunk i's pairs end here (start: pairsEnd[i - 1])
  const lengths = new Float64Array(n);
  const tfScratch: number[] = []; // term id → tf within the current chunk (0 outside it)
  const seen: number[] = [];
  for (let i = 0; i < n; i++) {
    const chunk = chunks[i]!;
    const weighted: Array<[string[], number]> = [
      [tokenize(chunk.title), HEADING_WEIGHT],
      [chunk.section === undefined ? [] : tokenize(chunk.section), HEADING_WEIGHT],
      [tokenize(chunk.text), 1],
    ];
    let length = 0;
    for (const [terms, weight] of weighted) {
      for (const term of terms) {
        let id = termIds.get(term);
        if (id === undefined) {
          id = termIds.size;
          termIds.set(term, id);
          df.push(0);
          tfScratch.push(0);
        }
        if (tfScratch[id] === 0) seen.push(id);
        tfScratch[id] = (tfScratch[id] ?? 0) + weight;
        length += weight;
      }
    }
    for (const id of seen) {
      pairTerm.push(id);
      pairTf.push(tfScratch[id] ?? 0);
      df[id] = (df[id] ?? 0) + 1;
      tfScratch[id] = 0;
    }
    seen.length = 0;
    pairsEnd[i] = pairTerm.length;
    lengths[i] = length;
  }

  // Pass 2: postings per term (CSR layout): term t's postings are [offsets[t], offsets[t + 1]).
  const termCount = termIds.size;
  const offsets = new Uint32Array(termCount + 1);
  for (let t = 0; t < termCount; t++) offsets[t + 1] = offsets[t]! + df[t]!;
  const postingChunk = new Uint32Array(pairTerm.length);
  const postingTf = new Uint32Array(pairTerm.length);
  const fill = offsets.slice(0, termCount);
  for (let i = 0, p = 0; i < n; i++) {
    for (const end = pairsEnd[i]!; p < end; p++) {
      const t = pairTerm.get(p);
      const at = fill[t]!;
      postingChunk[at] = i;
      postingTf[at] = pairTf.get(p);
      fill[t] = at + 1;
    }
  }

  let total = 0;
  for (let i = 0; i < n; i++) total += lengths[i]!;
  const avgLength = n === 0 ? 0 : total / n;
  const norm = new Float64Array(n); // k1 · (1 − b + b · len / avgLen)
  for (let i = 0; i < n; i++) norm[i] = K1 * (1 - B + (avgLength === 0 ? 0 : (B * lengths[i]!) / avgLength));

  const scores = new Float64Array(n); // all zero between searches
  const touched: number[] = [];

  return {
    size: n,
    search(query: string, k: number): SearchHit[] {
      const limit = Math.floor(k);
      if (!(limit >= 1) || n === 0) return [];
      try {
        for (const term of new Set(tokenize(query))) {
          const t = termIds.get(term);
          if (t === undefined) continue;
          const docFreq = offsets[t + 1]! - offsets[t]!;
          const idf = Math.log(1 + (n - docFreq + 0.5) / (docFreq + 0.5));
          for (let p = offsets[t]!, end = offsets[t + 1]!; p < end; p++) {
            const i = postingChunk[p]!;
            const tf = postingTf[p]!;
            if (scores[i] === 0) touched.push(i);
            scores[i] = scores[i]! + (idf * tf * (K1 + 1)) / (tf + norm[i]!);
          }
        }
        return topK(touched, scores, limit).map((i) => ({ chunk: chunks[i]!, score: scores[i]! }));
      } finally {
        for (const i of touched) scores[i] = 0;
        touched.length = 0;
      }
    },
  };
}

/** Whether chunk a ranks below chunk b: a lower score, or an equal score and a later chunk. */
function ranksBelow(a: number, b: number, scores: Float64Array): boolean {
  const sa = scores[a]!;
  const sb = scores[b]!;
  return sa < sb || (sa === sb && a > b);
}

/**
 * The best `k` of `candidates` (positive scores only), best first. A min-heap of size k whose root is the worst kept
 * candidate: each candidate costs O(log k), and only the k kept ones are sorted.
 */
function topK(candidates: readonly number[], scores: Float64Array, k: number): number[] {
  const heap: number[] = [];
  const siftDown = (from: number) => {
    for (let i = from; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let worst = i;
      if (l < heap.length && ranksBelow(heap[l]!, heap[worst]!, scores)) worst = l;
      if (r < heap.length && ranksBelow(heap[r]!, heap[worst]!, scores)) worst = r;
      if (worst === i) return;
      [heap[i], heap[worst]] = [heap[worst]!, heap[i]!];
      i = worst;
    }
  };
  for (const c of candidates) {
    if (!(scores[c]! > 0)) continue;
    if (heap.length < k) {
      heap.push(c);
      for (let i = heap.length - 1; i > 0; ) {
        const parent = (i - 1) >> 1;
        if (!ranksBelow(heap[i]!, heap[parent]!, scores)) break;
        [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
        i = parent;
      }
    } else if (ranksBelow(heap[0]!, c, scores)) {
      heap[0] = c;
      siftDown(0);
    }
  }
  return heap.sort((a, b) => (ranksBelow(a, b, scores) ? 1 : -1));
}
