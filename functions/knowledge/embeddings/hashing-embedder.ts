import { tokenize } from '#core/retrieval/tokenize';
import { callerAborted } from './attempts';
import { DEFAULT_MAX_CHARS, type Embedder } from './embedder';
import { configProblems } from './embedder-config';
import { featureHash, fmix32 } from './feature-hash';
import { inputText } from './input-text';
import { l2Normalize } from './vector';

export const HASHING_MODEL = 'groupgate-hashing-v1';
export const DEFAULT_HASHING_DIMENSIONS = 256;

/**
 * Features of one text, from the retrieval tokenizer's terms (`tokenize`: lower case, stop words dropped, light plural
 * fold, CJK bigrams), so the vector side and BM25 read a text alike:
 * - `w:` each English/Latin word whole;
 * - `g:` its character 3–5-grams with boundary marks (`<deploy>` → `<de`, `dep`, …, `loy>`): `deploy`, `deploying`
 *   and `deployment` share most of theirs, as a typo (`deploymnet`) does;
 * - `c:` each CJK bigram (or lone character), which a reworded Chinese sentence shares with the original.
 * A word's grams outnumber it (a 10-letter word has 27), so grams weigh `GRAM_WEIGHT` each: together they still
 * outweigh the whole word, which keeps variants close, while an exact word match counts clearly more than one gram.
 */
const CJK_TERM = /^[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\u30FC]/u;
const MIN_GRAM = 3;
const MAX_GRAM = 5;
const WORD_WEIGHT = 1;
const GRAM_WEIGHT = 0.5;
const CJK_WEIGHT = 1;

const SURROGATE = /[\ud800-\udfff]/;

/** Character n-grams of `word`, MIN_GRAM to MAX_GRAM long, by code point (sliced directly when there is no pair). */
function gramsOf(word: string): string[] {
  const chars = SURROGATE.test(word) ? Array.from(word) : undefined;
  const length = chars ? chars.length : word.length;
  const grams: string[] = [];
  for (let n = MIN_GRAM; n <= MAX_GRAM; n++) {
    for (let start = 0; start + n <= length; start++) {
      grams.push(chars ? chars.slice(start, start + n).join('') : word.slice(start, start + n));
    }
  }
  return grams;
}

/** Sparse features of `text`: feature → [weight of its group, occurrences]. */
function featuresOf(text: string): Map<string, [number, number]> {
  const features = new Map<string, [number, number]>();
  const add = (feature: string, weight: number): void => {
    const seen = features.get(feature);
    if (seen) seen[1] += 1;
    else features.set(feature, [weight, 1]);
  };
  for (const term of tokenize(text)) {
    if (CJK_TERM.test(term)) {
      add(`c:${term}`, CJK_WEIGHT);
      continue;
    }
    add(`w:${term}`, WORD_WEIGHT);
    for (const gram of gramsOf(`<${term}>`)) add(`g:${gram}`, GRAM_WEIGHT);
  }
  return features;
}

/**
 * Deterministic feature-hashing embedder: the sandbox's stand-in for an embedding model. NOT semantic: it maps
 * texts sharing words, word pieces (character 3–5-grams of English words) and CJK bigrams to nearby vectors, which
 * makes the vector half of hybrid retrieval find morphological/typo variants BM25 misses. Signed hashing (FNV-1a
 * or murmur3 32-bit) into `dimensions` buckets (default 256), sublinear tf (1 + ln tf), L2-normalised.
 *
 * The sign of a feature comes from a second mix of its hash, so collisions in a bucket cancel on average instead of
 * adding up. A text without features (empty, only stop words or punctuation) is the zero vector, similar to nothing.
 * `purpose` is ignored: documents and queries are embedded alike. Texts are cut at `maxChars` as the remote
 * embedders cut them.
 */
export function createHashingEmbedder(options?: {
  readonly dimensions?: number;
  readonly maxChars?: number;
}): Embedder {
  const problems = configProblems('Hashing embedder');
  problems.integer('dimensions', options?.dimensions, 1, 65_536);
  problems.integer('maxChars', options?.maxChars, 1);
  problems.throwIfAny();
  const dimensions = options?.dimensions ?? DEFAULT_HASHING_DIMENSIONS;
  const maxChars = options?.maxChars ?? DEFAULT_MAX_CHARS;

  const embedOne = (text: string): Float32Array => {
    const sums = new Float64Array(dimensions);
    for (const [feature, [weight, count]] of featuresOf(inputText(text, maxChars))) {
      const hash = featureHash(feature);
      const sign = (fmix32(hash ^ 0x9e3779b9) & 1) === 0 ? 1 : -1;
      sums[hash % dimensions]! += sign * weight * (1 + Math.log(count));
    }
    return l2Normalize(sums);
  };

  return {
    model: HASHING_MODEL,
    dimensions,
    async embed(texts, _purpose, { signal } = {}) {
      const vectors: Float32Array[] = [];
      for (const text of texts) {
        if (signal?.aborted) throw callerAborted(signal);
        vectors.push(embedOne(text));
      }
      return vectors;
    },
  };
}
