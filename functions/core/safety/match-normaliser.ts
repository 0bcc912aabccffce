/**
 * Normalisation for lexicon matching, with a map back to the original text.
 *
 * Each base character and its combining marks (one "cluster") is NFKC-normalised (full-width → half-width,
 * compatibility forms → plain letters, decomposed accents → composed) and lower-cased. Characters that are white
 * space, punctuation, symbols or format characters (which include U+200B–U+200D, U+2060, U+FEFF and the soft hyphen)
 * are dropped, so "b a d", "ｂａｄ", "b\u200Bad" and "B.A.D" all read "bad". Combining marks left after NFKC
 * (strike-through or "zalgo" decoration) are dropped too, without counting as a gap; on both sides, so Indic and
 * Thai terms match a little more coarsely (vowel signs ignored). Each kept character is then folded
 * (`character-folding.ts`): Latin lookalikes from Cyrillic, Greek, … to the ASCII letter they imitate, traditional
 * Han to simplified, so "fоrbiddеn" (Cyrillic о, е) reads "forbidden" and "機密" reads "机密". Every kept UTF-16 unit
 * remembers the original span of its cluster and whether anything was dropped just before it, which the matcher needs
 * for word boundaries. One pass, O(n).
 */

import { foldCharacter } from './character-folding';

export interface NormalisedText {
  /** The kept characters, normalised. */
  readonly text: string;
  /** Per unit of `text`: start (inclusive) and end (exclusive) offsets of its cluster in the original string. */
  readonly originStart: Int32Array;
  readonly originEnd: Int32Array;
  /** Per unit: 1 if at least one dropped character lies between it and the previous kept unit. */
  readonly gapBefore: Uint8Array;
  /** Per unit: 1 if it is a letter or digit of a script that separates words with spaces (Latin, Cyrillic, …). */
  readonly spacedWord: Uint8Array;
}

const IGNORABLE = /^[\s\p{P}\p{S}\p{Z}\p{Cf}\p{Cc}]$/u;
const COMBINING_MARK = /^\p{M}$/u;
/** Letters and digits of scripts written without spaces between words, where a word boundary cannot be required. */
const UNSPACED_SCRIPT = /^[\p{sc=Han}\p{sc=Hiragana}\p{sc=Katakana}\p{sc=Thai}\p{sc=Lao}\p{sc=Khmer}\p{sc=Myanmar}]$/u;
const WORD_CHAR = /^[\p{L}\p{N}]$/u;

function isAsciiWordCode(code: number): boolean {
  return (code >= 0x30 && code <= 0x39) || (code >= 0x61 && code <= 0x7a);
}

function isSpacedWordChar(char: string): boolean {
  return WORD_CHAR.test(char) && !UNSPACED_SCRIPT.test(char);
}

/** Normalises `input`; lexicon terms go through the same function so both sides agree. */
export function normaliseForMatching(input: string): NormalisedText {
  const parts: string[] = [];
  const starts: number[] = [];
  const ends: number[] = [];
  const gaps: number[] = [];
  const spaced: number[] = [];
  let gap = false;
  const emit = (char: string, start: number, end: number): void => {
    parts.push(char);
    for (let k = 0; k < char.length; k++) {
      starts.push(start);
      ends.push(end);
      gaps.push(gap ? 1 : 0);
      gap = false;
    }
    const code = char.charCodeAt(0);
    const isSpaced = code < 0x80 ? isAsciiWordCode(code) : isSpacedWordChar(char);
    for (let k = 0; k < char.length; k++) spaced.push(isSpaced ? 1 : 0);
  };

  let i = 0;
  while (i < input.length) {
    const code = input.charCodeAt(i);
    if (code < 0x80 && (i + 1 >= input.length || input.charCodeAt(i + 1) < 0x300)) {
      // ASCII not followed by a possible combining mark: lower-case letters, keep digits, drop everything else.
      const lower = code >= 0x41 && code <= 0x5a ? code + 0x20 : code;
      if (isAsciiWordCode(lower)) emit(String.fromCharCode(lower), i, i + 1);
      else gap = true;
      i++;
      continue;
    }
    const start = i;
    i += (input.codePointAt(i) ?? 0) > 0xffff ? 2 : 1;
    while (i < input.length) {
      const next = String.fromCodePoint(input.codePointAt(i) ?? 0);
      if (!COMBINING_MARK.test(next)) break;
      i += next.length;
    }
    for (const char of input.slice(start, i).normalize('NFKC').toLowerCase()) {
      if (IGNORABLE.test(char)) gap = true;
      else if (!COMBINING_MARK.test(char)) emit(foldCharacter(char), start, i);
    }
  }
  return {
    text: parts.join(''),
    originStart: Int32Array.from(starts),
    originEnd: Int32Array.from(ends),
    gapBefore: Uint8Array.from(gaps),
    spacedWord: Uint8Array.from(spaced),
  };
}
