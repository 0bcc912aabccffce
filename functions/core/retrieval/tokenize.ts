/**
 * Search terms for lexical retrieval (BM25, `bm25.ts`) over mixed Chinese/Japanese/Korean and English text. The same
 * function makes the terms of documents and of queries, so any folding here applies to both sides alike.
 *
 * - NFKC first, so full-width letters, digits and punctuation (`ＦＡＱ`, `１２`, `，`) read as their ASCII forms.
 * - A run of CJK characters (Han, Hiragana, Katakana, Hangul, the prolonged sound mark ー) becomes its overlapping
 *   character bigrams (`如何配置` → 如何, 何配, 配置); a run of one character is kept as that character. Bigrams need
 *   no dictionary and match any two-character word; CJK terms are never dropped as stop words.
 * - Any other run of letters and digits is a word; everything else (spaces, markdown, `:`, `_`, `.`) separates words.
 *   A word with case changes (`answerCacheTtlMinutes`) yields the whole word and its camelCase parts (answer, cache,
 *   ttl, minute — folded like any word), so a query may name either.
 * - Words are lower-cased; English stop words and single letters are dropped; a light plural fold maps
 *   `caches` → `cache`, `queues` → `queue`, `policies` → `policy` (words of four letters or more).
 */

const CJK_CHAR = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\u30FC]/u;
const WORD_CHAR = /[\p{L}\p{M}\p{N}]/u;
const SEPARATOR = 0;
const WORD = 1;
const CJK = 2;
type CharKind = typeof SEPARATOR | typeof WORD | typeof CJK;
/** camelCase parts: an upper-case run not followed by lower case (`TTL`, `XML`), a capitalised or lower word, digits. */
const CAMEL_PART = /\p{Lu}+(?!\p{Ll})|\p{Lu}?[\p{Ll}\p{M}]+|\p{N}+/gu;
const HAS_CASE_CHANGE = /\p{Ll}\p{Lu}|\p{Lu}\p{Lu}\p{Ll}/u;
const ACRONYM_PLURAL = /(?<=\p{Lu})s$/u;
const DIGIT = /\p{N}/u;

/** Dropped English function words (lower case). Deliberately short: domain words are never stop words. */
const STOP_WORDS: ReadonlySet<string> = new Set([
  'the',
  'a',
  'an',
  'is',
  'are',
  'how',
  'what',
  'do',
  'i',
  'to',
  'of',
  'in',
  'for',
  'and',
  'or',
  'on',
  'with',
  'my',
  'does',
  'can',
  'it',
  'this',
  'that',
  'be',
]);

/**
 * Light plural fold (after Harman's S-stemmer): -ies → -y, -s → drop, except -ss, -us and words shorter than four
 * characters (`aws`, `gas`, `yes` stay). `caches` → `cache`, `APIs` → `api`, `boxes` → `boxe`: plural and singular of
 * most words meet, and nothing is folded so far that unrelated words collide. A singular that ends in s (`redis` →
 * `redi`) folds the same way in documents and queries, so it still matches itself.
 */
function foldPlural(word: string): string {
  if (word.length < 4 || !word.endsWith('s')) return word;
  if (word.endsWith('ies') && !word.endsWith('eies') && !word.endsWith('aies')) return `${word.slice(0, -3)}y`;
  if (word.endsWith('ss') || word.endsWith('us')) return word;
  return word.slice(0, -1);
}

/** Appends `word` (already lower case) as a term unless it is a stop word or a single letter. */
function pushWord(terms: string[], word: string): void {
  if (STOP_WORDS.has(word) || (word.length === 1 && !DIGIT.test(word))) return;
  terms.push(foldPlural(word));
}

function pushCjkRun(terms: string[], run: string): void {
  const chars = Array.from(run); // code points: a Han character outside the BMP is one character
  if (chars.length === 1) {
    terms.push(run);
    return;
  }
  for (let i = 0; i + 1 < chars.length; i++) terms.push(`${chars[i]}${chars[i + 1]}`);
}

/** What a code point is: ASCII by code (most text), anything else by its Unicode properties. */
function kindOf(code: number, char: string): CharKind {
  if (code < 0x80) {
    // 0-9, A-Z, a-z
    return (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122) ? WORD : SEPARATOR;
  }
  if (CJK_CHAR.test(char)) return CJK;
  return WORD_CHAR.test(char) ? WORD : SEPARATOR;
}

function pushLatinWord(terms: string[], word: string): void {
  const lower = word.toLowerCase();
  pushWord(terms, lower);
  if (lower === word) return; // no capitals, no camelCase
  const cased = word.replace(ACRONYM_PLURAL, ''); // `FAQs`, `APIs` are plurals, not camelCase
  if (HAS_CASE_CHANGE.test(cased)) {
    for (const part of cased.match(CAMEL_PART) ?? []) pushWord(terms, part.toLowerCase());
  }
}

/**
 * Search terms of a text, in text order (duplicates kept: the caller counts them). Deterministic, pure. A scan by
 * code point rather than one Unicode-property regex: about twice as fast on mostly-ASCII text.
 */
export function tokenize(text: string): string[] {
  const terms: string[] = [];
  const normalized = text.normalize('NFKC');
  let runStart = 0;
  let runKind: CharKind = SEPARATOR;
  const endRun = (at: number) => {
    if (runKind === WORD) pushLatinWord(terms, normalized.slice(runStart, at));
    else if (runKind === CJK) pushCjkRun(terms, normalized.slice(runStart, at));
  };
  for (let i = 0; i < normalized.length; ) {
    const code = normalized.codePointAt(i)!;
    const width = code > 0xffff ? 2 : 1;
    const kind = kindOf(code, code < 0x80 ? '' : normalized.slice(i, i + width));
    if (kind !== runKind) {
      endRun(i);
      runStart = i;
      runKind = kind;
    }
    i += width;
  }
  endRun(normalized.length);
  return terms;
}
