/**
 * The text that PII detectors read, with a map back to the original (`pii.ts` masks ORIGINAL spans).
 *
 * Per code point:
 * - white space of any kind (U+3000 ideographic space, NBSP, thin spaces, …) → ' ';
 * - dashes and minus signs (U+2010–U+2015, U+2212, full-width and small hyphen-minus) → '-';
 * - dots used as separators (ideographic full stop 。, full-width ．, middle dots · ・, one-dot leader) → '.';
 * - format characters (zero-width space/joiners, word joiner, BOM, soft hyphen, bidi controls) and combining marks
 *   are dropped; a mark belongs to the character before it, so that character's span grows to cover it;
 * - anything else is NFKC-normalised: full-width digits and letters, '＠', circled and mathematical digits become
 *   ASCII (an expansion such as '⑴' → '(1)' maps every unit to the one original character).
 * ASCII is kept as it is, and a text that is all ASCII is its own view (no copy, identity offsets). One pass, O(n).
 */

export interface DetectionView {
  readonly text: string;
  /** Per unit of `text`: start (inclusive) and end (exclusive) of its character in the original; null = identity. */
  readonly originStart: Int32Array | null;
  readonly originEnd: Int32Array | null;
}

/** Any UTF-16 unit above ASCII (surrogates included). */
const NON_ASCII = /[\u0080-\uffff]/;
const SPACE = /^\p{Zs}$/u;
/** Hyphen, non-breaking hyphen, figure/en/em dashes, horizontal bar, minus, small and full-width hyphen-minus. */
const DASHES = new Set(Array.from('\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d'));
/** Ideographic full stop (and half-width), full-width and small full stop, middle dots, one-dot leader. */
const DOTS = new Set(Array.from('\u3002\uff61\uff0e\ufe52\u00b7\u30fb\uff65\u2024'));
const DROPPED = /^[\p{Cf}\p{M}]$/u;
const MARK = /^\p{M}$/u;

/** CJK ideographs and Hangul syllables are NFKC-stable; skipping `normalize` for them keeps Chinese text cheap. */
function isNfkcStable(code: number): boolean {
  return (code >= 0x3400 && code <= 0x4dbf) || (code >= 0x4e00 && code <= 0x9fff) || (code >= 0xac00 && code <= 0xd7a3);
}

function mapSeparator(char: string): string {
  if (SPACE.test(char)) return ' ';
  if (DASHES.has(char)) return '-';
  if (DOTS.has(char)) return '.';
  return char;
}

export function buildDetectionView(input: string): DetectionView {
  if (!NON_ASCII.test(input)) return { text: input, originStart: null, originEnd: null };
  let text = '';
  const starts: number[] = [];
  const ends: number[] = [];
  /** Index in `starts` of the first unit emitted for the last kept original character. */
  let lastCluster = -1;
  const emit = (chars: string, start: number, end: number): void => {
    lastCluster = starts.length;
    text += chars;
    for (let k = 0; k < chars.length; k++) {
      starts.push(start);
      ends.push(end);
    }
  };
  let i = 0;
  while (i < input.length) {
    const code = input.codePointAt(i) ?? 0;
    const width = code > 0xffff ? 2 : 1;
    const start = i;
    i += width;
    if (code < 0x80 || isNfkcStable(code)) {
      emit(input.slice(start, i), start, i);
      continue;
    }
    if (code >= 0xff01 && code <= 0xff5e) {
      // Full-width ASCII: what NFKC gives, by arithmetic (the common case for PII typed with a CJK input method).
      emit(mapSeparator(String.fromCharCode(code - 0xfee0)), start, i);
      continue;
    }
    const char = input.slice(start, i);
    if (DROPPED.test(char)) {
      if (MARK.test(char) && lastCluster >= 0 && ends[lastCluster] === start) {
        for (let k = lastCluster; k < ends.length; k++) ends[k] = i;
      }
      continue;
    }
    let mapped = '';
    for (const part of mapSeparator(char).normalize('NFKC')) {
      const separator = mapSeparator(part);
      if (!DROPPED.test(separator)) mapped += separator;
    }
    if (mapped.length > 0) emit(mapped, start, i);
  }
  return { text, originStart: Int32Array.from(starts), originEnd: Int32Array.from(ends) };
}

/** Original span of the view span [start, end) (end > start). */
export function originalSpan(view: DetectionView, start: number, end: number): { start: number; end: number } {
  if (view.originStart === null || view.originEnd === null) return { start, end };
  return { start: view.originStart[start]!, end: view.originEnd[end - 1]! };
}
