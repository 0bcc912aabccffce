/**
 * Removes characters that render as nothing from text a member or REST caller sends (the question and the REST
 * `context`). The pipeline applies it once, at its entry, so the model, the safety filters, PII masking, the stored
 * context, the FAQ cache key and the audit all see the same text.
 *
 * Why: invisible characters still reach the model's tokenizer. Unicode tag characters (U+E0000–E007F) spell ASCII
 * invisibly ("ASCII smuggling") and variation selectors can encode arbitrary bytes, so a member could plant an
 * instruction that no reader of the chat sees — and, through the FAQ cache, have the answer it shaped served to
 * everyone who asks the visible question.
 *
 * Removed:
 * - every format character (`\p{Cf}`): zero-width space, ZWJ/ZWNJ, word joiner, BOM, soft hyphen, bidi marks,
 *   embeddings, overrides and isolates, interlinear annotation, Mongolian vowel separator, tag characters, …;
 * - the whole tag block U+E0000–E007F (some of its code points are unassigned rather than `Cf`);
 * - variation selectors U+FE00–FE0F and U+E0100–E01EF (invisible; they only pick a glyph variant);
 * - the combining grapheme joiner U+034F and the Hangul fillers U+115F, U+1160, U+3164, U+FFA0 (render blank);
 * - C0 and C1 control characters, except the white-space ones (tab, LF, VT, FF, CR, NEL).
 * Lone surrogates become U+FFFD, so every later stage sees well-formed UTF-16.
 *
 * ZWJ is removed inside emoji sequences too: "👨‍👩‍👧" becomes "👨👩👧", which means the same to the model and to
 * people, while keeping it between pictographs would keep a covert channel for no gain. The few visible `Cf`
 * characters (Arabic number signs such as U+0600) are removed as well; they carry no meaning a question depends on.
 * Nothing visible is rewritten (no NFKC here): full-width letters and the like reach the model as written.
 */

/** The invisible characters above, one alternative per family. */
const INVISIBLE = new RegExp(
  [
    '\\p{Cf}',
    '[\\u{E0000}-\\u{E007F}]', // tag block
    '[\\uFE00-\\uFE0F\\u{E0100}-\\u{E01EF}]', // variation selectors
    '\\u034F|\\u115F|\\u1160|\\u3164|\\uFFA0', // combining grapheme joiner, Hangul fillers
    '[\\x00-\\x08\\x0E-\\x1F\\x7F-\\x84\\x86-\\x9F]', // C0/C1 controls except tab, LF, VT, FF, CR, NEL
  ].join('|'),
  'gu',
);

// In a `u` regex a lone surrogate is one code point of category Cs (a valid pair is one astral code point).
const LONE_SURROGATE = /\p{Cs}/gu;

/** `text` without invisible characters (see the module comment). O(n); idempotent. */
export function stripInvisible(text: string): string {
  return text.replace(LONE_SURROGATE, '\uFFFD').replace(INVISIBLE, '');
}

/**
 * The form in which bot commands (`/reset`, `/cost`, …) are recognised: invisible characters removed, NFKC (so the
 * full-width `／reset` and `＃费用` are the ASCII commands), lower case, trimmed.
 */
export function commandForm(text: string): string {
  return stripInvisible(text).normalize('NFKC').toLowerCase().trim();
}
