import { ConfigError } from '#core/errors';
import type { CompiledLexicon, FilterPolicy, LexiconEntry } from './content-filter';
import { normaliseForMatching } from './match-normaliser';
import { type LexiconTail, lexiconStreamScreen, type ScreenVerdict, type TextSpan } from './stream-guard-lexicon';
import { findPiiRuns } from './stream-guard-pii-runs';

export type { LexiconTail, ScreenVerdict, TextSpan } from './stream-guard-lexicon';

/**
 * Stream guard: decides how much of a model answer that is still streaming may be shown to the group, so that no
 * text reaches it before the content filter and PII masking have seen it (issue 15).
 *
 * After each delta the caller passes the whole raw answer so far. The guard screens the part of it whose lexicon
 * matches are final (`LexiconTail.settledEnd`); a block-level term there blocks the stream for good: nothing more is
 * shown and the final reply is the refusal. Otherwise it shows a prefix of the raw text, cut
 * - at least `holdBackChars` before the end, and before anything that could still grow into a term (whatever
 *   separators, case or width it uses), into a PII token, or gain a combining mark;
 * - never inside a lexicon match, a PII run (`stream-guard-pii-runs.ts`), a word of a space-separated script, a
 *   character cluster, a surrogate pair or a zero-width-joiner sequence;
 * then moderated and PII-masked by the same ports as the final answer.
 *
 * Because such a cut splits nothing the lexicon or a PII detector looks at, and nothing after it can grow back
 * across it, the filters find in the part before the cut exactly what they find there in the whole answer, however
 * it continues. Hence:
 * - every snapshot is a prefix of the final masked text (`screen` then `maskPii` of the whole answer): snapshots
 *   only grow, which platforms that can only append (Slack) rely on, and masking never rewrites text already shown;
 * - the shown part is final, so each push analyses only the raw text after the last cut. A push costs O(length of
 *   that unshown tail): the hold-back window, the current word or PII run, a partial term, and the new delta; a
 *   long unbroken run (a hex blob) is re-read on each push until it ends, O(n) at worst.
 */

export interface StreamGuardPorts {
  /** Lexicon filter: the same compiled lexicon and policy as the final output filter (no external provider). */
  screen(text: string): ScreenVerdict;
  /** What of `text` is not final for the lexicon while more may follow. */
  lexiconTail(text: string): LexiconTail;
  /** The same PII masker as the final answer's. */
  maskPii(text: string): { readonly text: string; readonly found: number };
}

export interface StreamGuardOptions {
  /** Minimum number of raw UTF-16 units kept back from the end while streaming (`holdBackFor`). */
  readonly holdBackChars: number;
}

export interface StreamGuard {
  /**
   * Feed the whole raw answer so far. Returns the screened, PII-masked text that may be shown now (always longer
   * than, and starting with, the previous snapshot), or undefined when there is nothing new to show or the stream
   * is blocked. Each call should extend the previous raw text; one that rewrites the part already shown restarts
   * the analysis from scratch (still safe, but the next snapshot need not extend the previous one).
   */
  push(rawSoFar: string): string | undefined;
  /**
   * Feed the complete raw answer: nothing is held back. Returns the whole screened, PII-masked text (even when it
   * equals the last snapshot), or undefined when blocked.
   */
  complete(raw: string): string | undefined;
  /** A block-level term was seen: nothing more is shown, and the final reply is the refusal. */
  readonly blocked: boolean;
}

const COMBINING_MARK = /^\p{M}$/u;
const ZERO_WIDTH_JOINER = 0x200d;

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/** Start of the last code point and any combining marks or joiners attached to it: it may still change. */
function lastClusterStart(text: string): number {
  let i = text.length;
  while (i > 0) {
    let start = i - 1;
    if (start > 0 && isLowSurrogate(text.charCodeAt(start)) && isHighSurrogate(text.charCodeAt(start - 1))) start--;
    const char = text.slice(start, i);
    i = start;
    const attached = COMBINING_MARK.test(char) || char.charCodeAt(0) === ZERO_WIDTH_JOINER;
    const joined = i > 0 && text.charCodeAt(i - 1) === ZERO_WIDTH_JOINER;
    if (!attached && !joined) break;
  }
  return i;
}

/** `unsafe[p]` = 1 when showing `text.slice(0, p)` could split something the filters read. */
function unsafeCuts(
  text: string,
  spans: readonly TextSpan[],
  tail: LexiconTail,
  piiRuns: readonly TextSpan[],
): Uint8Array {
  const n = text.length;
  const unsafe = new Uint8Array(n + 1);
  // Inside lexicon matches: a difference array, so overlapping matches cost O(n + m).
  const depth = new Int32Array(n + 2);
  for (const span of spans) {
    if (span.end - span.start < 2) continue;
    depth[span.start + 1]! += 1;
    depth[span.end]! -= 1;
  }
  let open = 0;
  for (let p = 0; p <= n; p++) {
    open += depth[p]!;
    if (open > 0) unsafe[p] = 1;
  }
  for (const p of tail.noCut) if (p <= n) unsafe[p] = 1;
  for (const run of piiRuns) for (let p = run.start + 1; p < run.end; p++) unsafe[p] = 1;
  for (let p = 1; p < n; p++) {
    const code = text.charCodeAt(p);
    if (isLowSurrogate(code) && isHighSurrogate(text.charCodeAt(p - 1))) unsafe[p] = 1;
    else if (code === ZERO_WIDTH_JOINER || text.charCodeAt(p - 1) === ZERO_WIDTH_JOINER) unsafe[p] = 1;
    else if (code >= 0x300 && COMBINING_MARK.test(String.fromCodePoint(text.codePointAt(p) ?? 0))) unsafe[p] = 1;
  }
  return unsafe;
}

export function createStreamGuard(ports: StreamGuardPorts, options: StreamGuardOptions): StreamGuard {
  const { holdBackChars } = options;
  if (!Number.isInteger(holdBackChars) || holdBackChars < 0) {
    throw new ConfigError(['streamGuard.holdBackChars must be a non-negative integer']);
  }
  let blocked = false;
  /** Raw text already shown (a safe cut), and what was shown for it. */
  let shownRaw = '';
  let shown = '';

  const block = (): undefined => {
    blocked = true;
    return undefined;
  };

  /** The raw text after the last cut; a caller that rewrote the shown part gets a fresh start (still safe). */
  const unshown = (raw: string): string => {
    if (!raw.startsWith(shownRaw)) {
      shownRaw = '';
      shown = '';
    }
    return raw.slice(shownRaw.length);
  };

  /** Screens and masks `piece` (raw text right after the shown part); fails closed if it blocks. */
  const show = (raw: string, piece: string, verdict?: ScreenVerdict): string | undefined => {
    const screened = verdict ?? ports.screen(piece);
    if (screened.decision === 'block') return block();
    shownRaw = raw.slice(0, shownRaw.length + piece.length);
    shown += ports.maskPii(screened.text).text;
    return shown;
  };

  return {
    get blocked() {
      return blocked;
    },
    push(raw) {
      if (blocked) return undefined;
      const rest = unshown(raw);
      const tail = ports.lexiconTail(rest);
      const settledEnd = Math.min(tail.settledEnd, lastClusterStart(rest));
      const settled = ports.screen(rest.slice(0, settledEnd));
      if (settled.decision === 'block') return block();
      const pii = findPiiRuns(rest);
      const unsafe = unsafeCuts(rest, settled.spans, tail, pii.runs);
      let cut = Math.min(rest.length - holdBackChars, settledEnd, tail.pendingFrom, pii.openFrom);
      while (cut > 0 && unsafe[cut] === 1) cut--;
      if (cut <= 0) return undefined;
      return show(raw, rest.slice(0, cut), cut === settledEnd ? settled : undefined);
    },
    complete(raw) {
      if (blocked) return undefined;
      const rest = unshown(raw);
      return show(raw, rest);
    },
  };
}

/**
 * Hold-back window for a lexicon: the longest term as written (at least 1). Separators, case and width variants
 * need no extra margin: the guard also holds back whatever could still grow into a term (`LexiconTail`), however
 * long it is in raw characters; this window is the floor the issue asks for.
 */
export function holdBackFor(lexicon: CompiledLexicon | readonly LexiconEntry[] | readonly string[]): number {
  const entries: readonly (LexiconEntry | string)[] = Array.isArray(lexicon)
    ? lexicon
    : (lexicon as CompiledLexicon).entries;
  let longest = 1;
  for (const entry of entries) {
    const term = typeof entry === 'string' ? entry : entry.term;
    longest = Math.max(longest, term.length, normaliseForMatching(term).text.length);
  }
  return longest;
}

/**
 * The guard as the worker uses it: one fresh guard per streamed answer, with the lexicon and policy of the final
 * output filter and its PII masker.
 */
export function streamGuardFactory(options: {
  readonly lexicon: CompiledLexicon;
  readonly policy?: FilterPolicy;
  readonly maskPii: StreamGuardPorts['maskPii'];
}): () => StreamGuard {
  const ports: StreamGuardPorts = { ...lexiconStreamScreen(options.lexicon, options.policy), maskPii: options.maskPii };
  const holdBackChars = holdBackFor(options.lexicon);
  return () => createStreamGuard(ports, { holdBackChars });
}
