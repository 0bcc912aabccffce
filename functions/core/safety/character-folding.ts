import { TRADITIONAL_SIMPLIFIED_PAIRS } from './tables/han-simplified.generated';
import { LATIN_LOOKALIKES } from './tables/latin-lookalikes.generated';

/**
 * Per-character folding for lexicon matching (`match-normaliser.ts` applies it to lexicon terms and to text alike,
 * so both sides always agree):
 * - Latin lookalikes: a non-ASCII letter that Unicode's confusables data (UTS #39) lists as imitating one ASCII
 *   letter folds to it, so "fоrbiddеnwоrd" with Cyrillic о and е reads "forbiddenword". Only letters of Latin,
 *   Greek, Cyrillic, Armenian, Cherokee, Lisu and Coptic are folded; digits, symbols and other scripts are not.
 * - Han: a traditional character folds to its simplified form (OpenCC's character table), so "機密項目" and
 *   "机密项目" both read "机密项目". Character level, not phrase level: enough for two spellings to meet.
 *
 * Input must already be NFKC-normalised and lower-cased (the tables are keyed by lower-case letters, so case
 * folding stays consistent: 'Н' and 'н' both fold to 'h'). Costs one map look-up per non-ASCII character.
 *
 * Trade-off: text written entirely in Cyrillic or Greek folds too, so a word in those scripts can coincide with
 * a Latin lexicon term of the same shape ("сор" reads "cop"). Terms of those scripts still match their own text,
 * because the lexicon folds the same way.
 */

function parsePairs(pairs: string): Map<string, string> {
  const codePoints = Array.from(pairs);
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < codePoints.length; i += 2) map.set(codePoints[i]!, codePoints[i + 1]!);
  return map;
}

/** Built on the first non-ASCII character (~1 ms), not at module load: English-only traffic never pays for it. */
let hanSimplified: ReadonlyMap<string, string> | undefined;

/** Greek final sigma: the normaliser lower-cases character by character, so 'Σ' always becomes 'σ', never 'ς'. */
const FINAL_SIGMA = '\u03c2';
const SIGMA = '\u03c3';

/** Folds one code point (NFKC-normalised, lower-cased); returns it unchanged when nothing applies. */
export function foldCharacter(char: string): string {
  if (char.charCodeAt(0) < 0x80) return char;
  const key = char === FINAL_SIGMA ? SIGMA : char;
  hanSimplified ??= parsePairs(TRADITIONAL_SIMPLIFIED_PAIRS);
  return LATIN_LOOKALIKES.get(key) ?? hanSimplified.get(key) ?? key;
}
