/**
 * A fast, tokenizer-free token estimate, deliberately on the high side so a prompt built with it fits the model's
 * context window. Costs per code point, in quarter tokens (integers, so sums are exact):
 * - ASCII: 1/4 (BPE tokenizers average about 4 English characters per token);
 * - Latin-1, Latin Extended, Greek, Cyrillic: 1/2 (accented and non-English letters split more often);
 * - CJK ideographs, kana, Hangul, CJK and full-width punctuation: 1 (real tokenizers often do better; we do not
 *   count on it);
 * - emoji and other pictographs: 2 (several UTF-8 bytes, often byte-fallback tokens); ZWJ sequences count each part;
 * - anything else: 1.
 * O(n); no allocation beyond the iteration.
 */

const QUARTERS_ASCII = 1;
const QUARTERS_ALPHABETIC = 2;
const QUARTERS_CJK = 4;
const QUARTERS_PICTOGRAPH = 8;
const QUARTERS_OTHER = 4;

const PICTOGRAPH = /^\p{Extended_Pictographic}$/u;

function isCjk(cp: number): boolean {
  return (
    (cp >= 0x2e80 && cp <= 0x9fff) || // radicals, CJK punctuation, kana, bopomofo, Hangul compatibility, CJK A, URO
    (cp >= 0xac00 && cp <= 0xd7af) || // Hangul syllables
    (cp >= 0x1100 && cp <= 0x11ff) || // Hangul jamo
    (cp >= 0xf900 && cp <= 0xfaff) || // CJK compatibility ideographs
    (cp >= 0xfe30 && cp <= 0xfe4f) || // CJK compatibility forms
    (cp >= 0xff00 && cp <= 0xffef) || // half-width and full-width forms
    (cp >= 0x20000 && cp <= 0x3ffff) // CJK extensions B and later
  );
}

function quartersOf(cp: number, char: string): number {
  if (cp < 0x80) return QUARTERS_ASCII;
  if (cp <= 0x24f || (cp >= 0x370 && cp <= 0x52f)) return QUARTERS_ALPHABETIC;
  if (isCjk(cp)) return QUARTERS_CJK;
  if (PICTOGRAPH.test(char)) return QUARTERS_PICTOGRAPH;
  return QUARTERS_OTHER;
}

export function estimateTokens(text: string): number {
  let quarters = 0;
  for (const char of text) quarters += quartersOf(char.codePointAt(0)!, char);
  return Math.ceil(quarters / 4);
}

/**
 * The longest prefix of `text` (whole code points) that, followed by `marker`, is estimated at no more than
 * `maxTokens`; returns `marker` alone (or '' if even that does not fit) when no prefix fits. O(n).
 */
export function truncateToTokens(text: string, maxTokens: number, marker: string): string {
  const markerTokens = estimateTokens(marker);
  if (markerTokens > maxTokens) return '';
  // ceil(a + b) <= ceil(a) + ceil(b), so a prefix within the remaining budget plus the marker stays within maxTokens.
  const budgetQuarters = (maxTokens - markerTokens) * 4;
  let quarters = 0;
  let end = 0;
  for (const char of text) {
    quarters += quartersOf(char.codePointAt(0)!, char);
    if (quarters > budgetQuarters) break;
    end += char.length;
  }
  return text.slice(0, end) + marker;
}
