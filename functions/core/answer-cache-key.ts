import { createHash } from 'node:crypto';
import { maskPii } from './safety/pii';

/**
 * Key of the FAQ answer cache (ARCHITECTURE §3, 1 h TTL): frequent context-free questions are answered from the
 * cache instead of the model. Questions that differ only in case, width, spacing or punctuation share an entry.
 */

/** Bump when normalisation or key layout changes, so old entries are never read with a new meaning. */
const KEY_SCHEME = 'answer-cache/v1';

/** Characters of scripts written without spaces; a space next to one carries no meaning ("你好 世界" = "你好世界"). */
const UNSPACED = '\\p{sc=Han}\\p{sc=Hiragana}\\p{sc=Katakana}';
const SPACE_NEXT_TO_UNSPACED = new RegExp(`(?<=[${UNSPACED}]) | (?=[${UNSPACED}])`, 'gu');

/**
 * NFKC (full-width → half-width), lower case, punctuation (ASCII and CJK: ？。！，、「」…) and format characters
 * (zero-width spaces) removed — punctuation becomes a space so "a,b" stays two words — white space collapsed,
 * spaces beside CJK characters dropped, trimmed. O(n).
 */
export function normaliseQuestion(question: string): string {
  return question
    .normalize('NFKC')
    .toLowerCase()
    .replace(/\p{Cf}/gu, '')
    .replace(/\p{P}/gu, ' ')
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
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * Hex SHA-256 over the normalised question, model, prompt version and system-prompt hash. The parts are
 * JSON-encoded as an array so no two different inputs can concatenate to the same string.
 */
export function answerCacheKey(input: AnswerCacheKeyInput): string {
  const systemPromptHash = input.systemPrompt === undefined ? '' : sha256Hex(input.systemPrompt);
  return sha256Hex(
    JSON.stringify([
      KEY_SCHEME,
      normaliseQuestion(input.question),
      input.modelId,
      input.promptVersion,
      systemPromptHash,
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
  if (question.normalize('NFKC').trimStart().startsWith('/')) return false;
  return maskPii(question).findings.length === 0;
}
