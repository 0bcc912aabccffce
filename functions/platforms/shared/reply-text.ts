import { type LengthUnit, longestPrefixWithin, measure, splitReply } from './split-reply';

/**
 * Bounds on one model answer as it goes out to a chat. Both apply: the answer is first cut to `maxChars`, then the
 * platform split may produce at most `maxMessages` messages (whatever the platform's per-message limit), so a
 * runaway 5 MB answer becomes a few messages, never a thousand.
 */
export interface ReplyLimits {
  /** Largest answer in Unicode code points, before the platform's own mention prefix. @default 8000 */
  readonly maxChars: number;
  /** Largest number of platform messages one answer may become. @default 4 */
  readonly maxMessages: number;
}

export const DEFAULT_REPLY_LIMITS: ReplyLimits = Object.freeze({ maxChars: 8_000, maxMessages: 4 });

/** Appended, on its own paragraph, wherever an answer was cut (by `maxChars` or by `maxMessages`). */
export const TRUNCATION_NOTE = '\n\n… (answer shortened / 回答过长，已截断)';

/**
 * C0 controls except \t (U+0009) and \n (U+000A), DEL, and C1 controls. \r is handled before this (normalised to
 * \n). None of them renders in a chat client; some break the platforms' JSON-in-JSON payloads or terminals that
 * later show logs, and NUL can smuggle a break into a mention tag (`<\0at …>`) past a naive filter.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL_CHARS = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/g;
/** A lone surrogate half; JSON.stringify would emit it as an escape some platforms refuse. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
/**
 * Runs of U+FFFD become one. A single replacement character still tells the reader that something could not be
 * decoded at that spot (dropping it would silently glue words together), while a run is only noise: a model stuck
 * emitting mis-decoded bytes, which would otherwise fill the message budget with "���".
 */
const REPLACEMENT_RUN = /\uFFFD{2,}/g;

/**
 * Cleans model output for any chat platform: \r\n and lone \r become \n; control characters (above) are removed;
 * lone surrogates become U+FFFD and every run of U+FFFD collapses to one. Pure; never throws.
 */
export function sanitizeReplyText(text: string): string {
  return text
    .replace(/\r\n?/g, '\n')
    .replace(CONTROL_CHARS, '')
    .replace(LONE_SURROGATE, '\uFFFD')
    .replace(REPLACEMENT_RUN, '\uFFFD');
}

/**
 * Cuts `text` to at most `maxChars` code points including the truncation note, at the cleanest boundary
 * `splitReply` finds (paragraph, line, sentence, space), closing an open code fence. Text within the cap comes back
 * unchanged.
 */
export function capReplyChars(text: string, maxChars: number): string {
  // Code units bound code points from above: a string this short cannot be over the cap.
  if (text.length <= maxChars) return text;
  // Only the first maxChars code points are walked, so a 5 MB answer costs no more than an 8 kB one.
  if (firstCodePoints(text, maxChars).length === text.length) return text;
  const room = maxChars - codePointLength(TRUNCATION_NOTE);
  // One code point more than the room forces splitReply to choose a cut instead of returning the whole head.
  const head = firstCodePoints(text, room + 1);
  const kept = splitReply(head, { limit: room, unit: 'chars' })[0] ?? '';
  return `${kept.trimEnd()}${TRUNCATION_NOTE}`;
}

export interface BoundedSplitOptions {
  /** The platform's per-message limit, in `unit`. */
  readonly limit: number;
  readonly unit: LengthUnit;
  readonly maxMessages: number;
}

/**
 * Splits at the platform's per-message limit and keeps at most `maxMessages` parts; when parts are dropped, the
 * last kept part is shortened (at a clean boundary) to make room for the truncation note within `limit`.
 */
export function splitBoundedReply(text: string, options: BoundedSplitOptions): string[] {
  const parts = splitReply(text, { limit: options.limit, unit: options.unit });
  const max = Math.max(1, Math.floor(options.maxMessages));
  if (parts.length <= max) return parts;
  const kept = parts.slice(0, max);
  const last = kept[max - 1] ?? '';
  const size = measure(options.unit);
  const room = options.limit - size(TRUNCATION_NOTE);
  const shortened = size(last) <= room ? last : (splitReply(last, { limit: room, unit: options.unit })[0] ?? '');
  kept[max - 1] = `${shortened.trimEnd()}${TRUNCATION_NOTE}`;
  return kept;
}

export interface PrepareReplyOptions {
  readonly limits: ReplyLimits;
  /** The platform's per-message limit and how it is measured (room for any mention prefix already taken off). */
  readonly limit: number;
  readonly unit: LengthUnit;
  /** The platform's mention neutraliser; runs after sanitising and before any cut, so a cut cannot create a tag. */
  readonly neutralise: (text: string) => string;
}

/**
 * The one outbound text pipeline of every adapter: sanitise, neutralise the platform's mention syntax, cap at
 * `limits.maxChars`, split at the platform limit, keep at most `limits.maxMessages` parts.
 * @returns the message texts in order; at least one (possibly empty) part.
 */
export function prepareReplyParts(text: string, options: PrepareReplyOptions): string[] {
  const clean = options.neutralise(sanitizeReplyText(text));
  const capped = capReplyChars(clean, options.limits.maxChars);
  return splitBoundedReply(capped, {
    limit: options.limit,
    unit: options.unit,
    maxMessages: options.limits.maxMessages,
  });
}

/** Fills unset limits with the defaults; non-finite or non-positive values fall back too. */
export function resolveReplyLimits(limits: Partial<ReplyLimits> | undefined): ReplyLimits {
  const pick = (value: number | undefined, fallback: number) =>
    value !== undefined && Number.isFinite(value) && value >= 1 ? Math.floor(value) : fallback;
  return Object.freeze({
    maxChars: Math.max(MIN_MAX_CHARS, pick(limits?.maxChars, DEFAULT_REPLY_LIMITS.maxChars)),
    maxMessages: pick(limits?.maxMessages, DEFAULT_REPLY_LIMITS.maxMessages),
  });
}

/** Below this the truncation note and a cut boundary would not fit (splitReply needs 16 units of room). */
export const MIN_MAX_CHARS = 100;

const codePointLength = measure('chars');
const ONE = () => 1;

/** The first `count` code points of `text` (only those are walked). */
function firstCodePoints(text: string, count: number): string {
  return longestPrefixWithin(text, count, ONE);
}
