/** How a platform measures its message length limit. */
export type LengthUnit = 'bytes' | 'chars';

export interface SplitOptions {
  /** Largest size of one part, in `unit`; must leave room for a reopened and closed code fence. */
  readonly limit: number;
  /** `bytes`: UTF-8 bytes; `chars`: Unicode code points (a surrogate pair counts once). */
  readonly unit: LengthUnit;
}

interface Fence {
  /** The whole opening line, reused verbatim to reopen the block, e.g. "```ts". */
  readonly opening: string;
  /** The line that closes it, e.g. "```". */
  readonly closing: string;
}

/** Below this a fence line itself could be cut in two; real platform limits are thousands of units. */
const MIN_LIMIT = 16;
const FENCE_LINE = /^ {0,3}(`{3,}|~{3,})(.*)$/;
/** Sentence ends: Latin punctuation followed by a space, or CJK full-width punctuation. */
const SENTENCE_END = /[.!?](?=\s)|[。！？；]/g;

/**
 * Splits a reply into parts of at most `limit` units. Never cuts inside a UTF-8 sequence or a surrogate pair;
 * prefers, in order, a paragraph break, a line break, a sentence end, a space, and only then a hard cut. A part
 * that ends inside a markdown code fence gets the fence closed, and the next part reopens it with the same
 * opening line (language kept), so every part renders on its own.
 * Empty or fitting text comes back as one part.
 * @throws RangeError when `limit` is under 16 or too small to make progress through a fenced block.
 */
export function splitReply(text: string, options: SplitOptions): string[] {
  if (!(options.limit >= MIN_LIMIT)) {
    throw new RangeError(`Split limit must be at least ${MIN_LIMIT} ${options.unit}, got ${options.limit}`);
  }
  const size = measure(options.unit);
  const parts: string[] = [];
  let rest = text;
  let fence: Fence | undefined;

  while (true) {
    const prefix = fence ? `${fence.opening}\n` : '';
    if (size(prefix + rest) <= options.limit) {
      parts.push(prefix + rest);
      return parts;
    }
    // A chunk that ends inside a fence needs room for "\n" + the closing line: shrink the budget until it fits.
    let budget = options.limit - size(prefix);
    let part: string;
    let after: Fence | undefined;
    let next: number;
    do {
      const fitting = longestPrefixWithin(rest, budget, size);
      if (fitting.length === 0) {
        throw new RangeError(`Split limit ${options.limit} ${options.unit} is too small to make progress`);
      }
      const cut = chooseCut(fitting);
      const chunk = rest.slice(0, cut.end);
      after = fenceStateAfter(chunk, fence);
      part = after ? `${prefix}${chunk}\n${after.closing}` : prefix + chunk;
      next = cut.next;
      budget -= Math.max(1, size(part) - options.limit);
    } while (size(part) > options.limit);
    parts.push(part);
    fence = after;
    rest = rest.slice(next);
  }
}

/** The size of a string in `unit`: UTF-8 bytes, or code points (a surrogate pair counts once). */
export function measure(unit: LengthUnit): (s: string) => number {
  if (unit === 'bytes') {
    return (s) => Buffer.byteLength(s, 'utf8');
  }
  return (s) => {
    let count = 0;
    for (const _ of s) count++;
    return count;
  };
}

/** The longest prefix of whole code points whose size is within `budget`. */
/** The longest prefix of `text` of at most `budget` in `size`, never cutting a code point. O(prefix). */
export function longestPrefixWithin(text: string, budget: number, size: (s: string) => number): string {
  let used = 0;
  let end = 0;
  for (const codePoint of text) {
    const cost = size(codePoint);
    if (used + cost > budget) break;
    used += cost;
    end += codePoint.length;
  }
  return text.slice(0, end);
}

/**
 * Picks where to cut `fitting` (the most that fits): `end` is where the part stops, `next` where the following
 * part starts (the separator between them is dropped). A boundary is only taken when it keeps at least half of
 * the room, so a break near the start does not produce a run of tiny parts.
 */
function chooseCut(fitting: string): { end: number; next: number } {
  const minimum = Math.floor(fitting.length / 2);
  const paragraph = fitting.lastIndexOf('\n\n');
  if (paragraph >= minimum && paragraph > 0) return { end: paragraph, next: paragraph + 2 };
  const line = fitting.lastIndexOf('\n');
  if (line >= minimum && line > 0) return { end: line, next: line + 1 };
  const sentence = lastSentenceEnd(fitting);
  if (sentence >= minimum && sentence > 0) {
    const spaces = /^[ \t]*/.exec(fitting.slice(sentence))?.[0].length ?? 0;
    return { end: sentence, next: sentence + spaces };
  }
  const space = fitting.lastIndexOf(' ');
  if (space >= minimum && space > 0) return { end: space, next: space + 1 };
  return { end: fitting.length, next: fitting.length };
}

/** Index just after the last sentence-ending punctuation mark, or -1. */
function lastSentenceEnd(text: string): number {
  let found = -1;
  for (const match of text.matchAll(SENTENCE_END)) {
    found = match.index + match[0].length;
  }
  return found;
}

/** Walks the chunk's lines from the given state and returns the fence still open at its end, if any. */
function fenceStateAfter(chunk: string, open: Fence | undefined): Fence | undefined {
  let state = open;
  for (const line of chunk.split('\n')) {
    const match = FENCE_LINE.exec(line);
    if (!match) continue;
    const marker = match[1] ?? '';
    const info = (match[2] ?? '').trim();
    if (state) {
      const closingMarker = state.closing.trim();
      if (marker[0] === closingMarker[0] && marker.length >= closingMarker.length && info === '') {
        state = undefined;
      }
    } else if (!(marker[0] === '`' && info.includes('`'))) {
      state = { opening: line, closing: marker };
    }
  }
  return state;
}
