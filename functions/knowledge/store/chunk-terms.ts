import { tokenize } from '#core/retrieval/tokenize';

/**
 * The lexical side of a chunk as the store keeps it: BM25 term frequencies and length, computed exactly as the
 * in-memory index (functions/core/retrieval/bm25.ts) does, so a knowledge base ranks the same in PostgreSQL as in
 * memory: the terms of `tokenize(title)` and `tokenize(section)` count HEADING_WEIGHT times each (a heading says
 * what a section is about), those of `tokenize(text)` once; the length is the weighted count of all of them.
 *
 * One difference, for the database's sake: a term longer than MAX_TERM_LENGTH code points (a base64 blob, a hash, a
 * run of letters with no break) is cut to that length, in chunks and queries alike, so it still matches itself and
 * stays well inside a btree index entry (≈ 2.7 KB).
 */

/** bm25.ts's HEADING_WEIGHT (not exported there); the integration test holds the two rankings equal. */
export const HEADING_WEIGHT = 2;
/** Longest stored or queried term, in code points. */
export const MAX_TERM_LENGTH = 64;
/**
 * Most distinct terms a query searches for (the first ones in the text). A chat question has a few dozen; the cap
 * bounds the postings a pasted 100 KB text could make one search read.
 */
export const MAX_QUERY_TERMS = 512;

export interface ChunkTermInput {
  readonly title: string;
  readonly section?: string;
  readonly text: string;
}

export interface ChunkTerms {
  /** term → weighted frequency in the chunk */
  readonly frequencies: ReadonlyMap<string, number>;
  /** The weighted number of terms: BM25's document length. */
  readonly length: number;
}

export function storedTerm(term: string): string {
  return term.length <= MAX_TERM_LENGTH ? term : Array.from(term).slice(0, MAX_TERM_LENGTH).join('');
}

export function chunkTerms(chunk: ChunkTermInput): ChunkTerms {
  const frequencies = new Map<string, number>();
  let length = 0;
  const add = (text: string, weight: number) => {
    for (const term of tokenize(text)) {
      const key = storedTerm(term);
      frequencies.set(key, (frequencies.get(key) ?? 0) + weight);
      length += weight;
    }
  };
  add(chunk.title, HEADING_WEIGHT);
  if (chunk.section !== undefined) add(chunk.section, HEADING_WEIGHT);
  add(chunk.text, 1);
  return { frequencies, length };
}

/** The distinct terms of a query, in text order, at most MAX_QUERY_TERMS. */
export function queryTerms(text: string): string[] {
  const terms = new Set<string>();
  for (const term of tokenize(text)) {
    terms.add(storedTerm(term));
    if (terms.size === MAX_QUERY_TERMS) break;
  }
  return [...terms];
}
