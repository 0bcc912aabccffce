import { createHash } from 'node:crypto';
import { maskPii } from './safety/pii';
import { stripInvisible } from './safety/sanitise-input';

/**
 * Key of the FAQ answer cache (ARCHITECTURE §3, 1 h TTL): frequent context-free questions are answered from the
 * cache instead of the model. Questions that differ only in case, width, spacing, invisible characters or
 * sentence punctuation share an entry; symbols that carry meaning (`C#`/`C`, `C++`, `.NET`, `3.14`/`314`, `50%`,
 * `$100`, `¥`/`€`) keep questions apart. test/unit/core/answer-cache-key.test.ts holds the table of pairs that must
 * and must not share an entry.
 */

/** Bump when normalisation or key layout changes, so old entries are never read with a new meaning. */
const KEY_SCHEME = 'answer-cache/v2';

/** Characters of scripts written without spaces; a space next to one carries no meaning ("你好 世界" = "你好世界"). */
const UNSPACED = '\\p{sc=Han}\\p{sc=Hiragana}\\p{sc=Katakana}';
const SPACE_NEXT_TO_UNSPACED = new RegExp(`(?<=[${UNSPACED}]) | (?=[${UNSPACED}])`, 'gu');

/** A letter or digit of a spaced script: what `.`, `-`, `'`, `:` and `,` can join into one token ("3.14", "e-mail"). */
const WORD_CHAR = new RegExp(`^(?![${UNSPACED}])[\\p{L}\\p{N}]$`, 'u');
const DIGIT = /^\p{Nd}$/u;
/** Punctuation that changes what a question asks wherever it stands: `C#`, `50%`, `R&D`, `a/b`, `snake_case`. */
const ALWAYS_KEPT = new Set(['#', '%', '&', '@', '*', '/', '\\', '_', '‰', '‱']);
/** Kept between two word characters: `3.14`, `node.js`, `e-mail`, `what's`, `10:30`. */
const INFIX = new Set(['.', '-', "'", ':']);
/** Kept at the start of a word: `.NET`, `.5`, `-5`. */
const PREFIX = new Set(['.', '-']);

const codePointBefore = (s: string, i: number): string => [...s.slice(Math.max(0, i - 2), i)].at(-1) ?? '';
const codePointAt = (s: string, i: number): string => {
  const cp = s.codePointAt(i);
  return cp === undefined ? '' : String.fromCodePoint(cp);
};

/** Whether the punctuation mark `mark` at `offset` of `s` carries meaning (kept) or only separates (→ space). */
function keepsMeaning(mark: string, offset: number, s: string): boolean {
  if (ALWAYS_KEPT.has(mark)) return true;
  const before = codePointBefore(s, offset);
  const after = codePointAt(s, offset + mark.length);
  if (INFIX.has(mark) && WORD_CHAR.test(before) && WORD_CHAR.test(after)) return true;
  // "1,000" is a number, "a,b" two words.
  if (mark === ',' && DIGIT.test(before) && DIGIT.test(after)) return true;
  return PREFIX.has(mark) && (before === '' || /^\s$/u.test(before)) && WORD_CHAR.test(after);
}

/**
 * Invisible characters removed (as the pipeline does before the model), NFKC (full-width → half-width), lower case;
 * punctuation that only separates or ends a sentence (`?` `!` `,` quotes, brackets, CJK `？。！，、「」…`) becomes
 * a space, while meaningful marks are kept (see `keepsMeaning`); symbols (`+ $ ¥ € = < >`, emoji) are never
 * touched; white space collapsed, spaces beside CJK characters dropped, trimmed. O(n).
 */
export function normaliseQuestion(question: string): string {
  return stripInvisible(question)
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[\u2018\u2019]/gu, "'")
    .replace(/\p{P}/gu, (mark, offset: number, s: string) => (keepsMeaning(mark, offset, s) ? mark : ' '))
    .replace(/\s+/gu, ' ')
    .trim()
    .replace(SPACE_NEXT_TO_UNSPACED, '');
}

export interface AnswerCacheKeyInput {
  readonly question: string;
  readonly modelId: string;
  /** Version of the prompt template / builder; bump it to invalidate answers produced by an older prompt. */
  readonly promptVersion: string;
  /**
   * The system prompt in force. Groups can configure their own, and the same question gets a different answer
   * under a different system prompt (tone, language, policies), so it must be part of the key. Only its hash goes
   * into the key: prompts can be long, and the key should not depend on how the prompt is encoded.
   */
  readonly systemPrompt?: string;
  /**
   * The reply-token ceiling sent to the model (the effective one, after every cap): the same question asked with
   * `max_tokens: 16` and `max_tokens: 512` gets a different answer, so they must never share an entry.
   */
  readonly maxTokens: number;
  /** The sampling temperature sent to the model; it shapes the answer like the system prompt does. */
  readonly temperature: number;
  /**
   * What else the system message carries that shapes the answer for some askers only: a member profile's block
   * (language, length, style, audience). It makes a variant of the entry the rest of the input keys, so every
   * variant of one question is read in one GetItem (`splitAnswerCacheKey`).
   */
  readonly variant?: string;
}

/** Separates a key's entry from its variant; neither part (hex) contains it. */
const VARIANT_SEPARATOR = ':';

/** A cache key's parts: the entry (the item) and the variant within it, absent for the plain answer. */
export interface AnswerCacheKeyParts {
  readonly entry: string;
  readonly variant?: string;
}

export function splitAnswerCacheKey(key: string): AnswerCacheKeyParts {
  const at = key.indexOf(VARIANT_SEPARATOR);
  return at === -1 ? { entry: key } : { entry: key.slice(0, at), variant: key.slice(at + 1) };
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * Hex SHA-256 over the normalised question, model, prompt version, system-prompt hash, reply-token ceiling and
 * temperature: everything besides the question that shapes a context-free answer. The parts are JSON-encoded as an
 * array so no two different inputs can concatenate to the same string. With a `variant`, the entry's hash, `:`, and
 * the first 128 bits of the variant's SHA-256 (a profile block has a bounded number of renderings).
 */
export function answerCacheKey(input: AnswerCacheKeyInput): string {
  const entry = entryHash(input);
  return input.variant ? `${entry}${VARIANT_SEPARATOR}${sha256Hex(input.variant).slice(0, 32)}` : entry;
}

function entryHash(input: AnswerCacheKeyInput): string {
  const systemPromptHash = input.systemPrompt === undefined ? '' : sha256Hex(input.systemPrompt);
  return sha256Hex(
    JSON.stringify([
      KEY_SCHEME,
      normaliseQuestion(input.question),
      input.modelId,
      input.promptVersion,
      systemPromptHash,
      input.maxTokens,
      input.temperature,
    ]),
  );
}

/**
 * Whether an answer to `question` may be served from or stored in the shared cache:
 * - not when the answer may depend on more than the question (`hasContext`: remembered turns or a REST `context`);
 * - not for bot commands such as `/reset` (including the full-width slash);
 * - not when the question contains PII — the answer could echo it to someone else;
 * - not when nothing is left after normalisation.
 */
export function isCacheable(question: string, options: { readonly hasContext: boolean }): boolean {
  if (options.hasContext) return false;
  const normalised = normaliseQuestion(question);
  if (normalised.length === 0) return false;
  if (stripInvisible(question).normalize('NFKC').trimStart().startsWith('/')) return false;
  return maskPii(question).findings.length === 0;
}
