import { ConfigError } from '#core/errors';
import { type Automaton, buildAutomaton, searchAutomaton } from './aho-corasick';
import { normaliseForMatching } from './match-normaliser';

/**
 * Content-safety filter for model input and output: a lexicon matched after normalisation (see
 * `match-normaliser.ts`) and a per-risk-level policy. `moderation.ts` adds an optional external provider.
 *
 * Cost per message: O(n) normalisation + O(n + matches) Aho–Corasick search + O(n + m log m) masking, independent
 * of the lexicon size.
 *
 * Word boundaries: a term that begins (ends) with a letter or digit of a space-separated script (Latin, Cyrillic,
 * Greek, …) only matches where its first (last) character is not glued to another such letter or digit, so "ass"
 * does not fire inside "class" or "passage". A dropped separator counts as a boundary: that is what lets "b a d"
 * match, at the price of rare false positives such as "plan b ad campaign" for the term "bad".
 * CJK trade-off: Chinese and Japanese have no spaces between words, so terms in those scripts match as substrings
 * anywhere and can fire inside an unrelated longer word; curate CJK terms to be specific enough (two or more
 * characters, no common morphemes) rather than rely on boundaries.
 */

export type RiskLevel = 1 | 2 | 3;
export type FilterAction = 'allow' | 'mask' | 'block';
export type FilterDecision = FilterAction;

export interface LexiconEntry {
  /** Matched after normalisation; punctuation, spaces and symbols inside a term are ignored. */
  readonly term: string;
  /** 1 = low, 3 = high risk; the policy maps each level to an action. */
  readonly level: RiskLevel;
  /** Free-form label for audit and metrics, e.g. 'profanity', 'politics'. */
  readonly category: string;
}

export interface CompiledLexicon {
  readonly entries: readonly LexiconEntry[];
  readonly automaton: Automaton;
  /** Per entry: whether its first / last normalised character needs a word boundary. */
  readonly needsStartBoundary: readonly boolean[];
  readonly needsEndBoundary: readonly boolean[];
}

export interface FilterPolicy {
  /** Action for each risk level. */
  readonly actions: Readonly<Record<RiskLevel, FilterAction>>;
  /** Whole-reply replacement when blocked, keyed by language tag; unknown languages fall back to `zh`. */
  readonly blockText: Readonly<Record<string, string>>;
}

export const DEFAULT_BLOCK_TEXT: Readonly<Record<string, string>> = {
  zh: '内容包含敏感信息,请重新表述',
  en: 'The content contains sensitive information. Please rephrase.',
};

/** Level 1 is only recorded (audit, metrics), level 2 is masked, level 3 blocks the whole text. */
export const DEFAULT_FILTER_POLICY: FilterPolicy = {
  actions: { 1: 'allow', 2: 'mask', 3: 'block' },
  blockText: DEFAULT_BLOCK_TEXT,
};

export interface LexiconMatch {
  readonly term: string;
  readonly level: RiskLevel;
  readonly category: string;
  /** Span in the ORIGINAL text: `start` inclusive, `end` exclusive (UTF-16 offsets). */
  readonly start: number;
  readonly end: number;
}

export interface FilterResult {
  readonly decision: FilterDecision;
  /** The text to use: unchanged, masked with '*', or the block replacement. */
  readonly text: string;
  /** Every occurrence found, including those the policy allows (for audit). */
  readonly matches: readonly LexiconMatch[];
  /** Highest risk level found; 0 when nothing matched. */
  readonly maxLevel: 0 | RiskLevel;
}

export interface FilterOptions {
  readonly lexicon: CompiledLexicon;
  /** @default DEFAULT_FILTER_POLICY */
  readonly policy?: FilterPolicy;
  /** Language of the block replacement text. @default 'zh' */
  readonly language?: string;
}

const ACTION_RANK: Readonly<Record<FilterAction, number>> = { allow: 0, mask: 1, block: 2 };

export function isRiskLevel(value: unknown): value is RiskLevel {
  return value === 1 || value === 2 || value === 3;
}

/**
 * Validates and compiles a lexicon; do this once at cold start. Throws `ConfigError` listing every bad entry
 * (empty after normalisation, level not 1–3, missing category).
 */
export function compileLexicon(entries: readonly LexiconEntry[]): CompiledLexicon {
  const problems: string[] = [];
  const patterns: string[] = [];
  const needsStartBoundary: boolean[] = [];
  const needsEndBoundary: boolean[] = [];
  entries.forEach((entry, index) => {
    const normalised = normaliseForMatching(typeof entry.term === 'string' ? entry.term : '');
    if (normalised.text.length === 0) problems.push(`lexicon[${index}].term has no letters or digits`);
    if (!isRiskLevel(entry.level)) problems.push(`lexicon[${index}].level must be 1, 2 or 3`);
    if (typeof entry.category !== 'string' || entry.category.length === 0) {
      problems.push(`lexicon[${index}].category must be a non-empty string`);
    }
    patterns.push(normalised.text);
    needsStartBoundary.push(normalised.spacedWord[0] === 1);
    needsEndBoundary.push(normalised.spacedWord[normalised.text.length - 1] === 1);
  });
  if (problems.length > 0) throw new ConfigError(problems);
  return { entries, automaton: buildAutomaton(patterns), needsStartBoundary, needsEndBoundary };
}

/** All lexicon occurrences in `text`, in order of their end, with spans mapped back to the original text. */
export function findLexiconMatches(text: string, lexicon: CompiledLexicon): LexiconMatch[] {
  const normalised = normaliseForMatching(text);
  const { gapBefore, spacedWord, originStart, originEnd } = normalised;
  const length = normalised.text.length;
  const matches: LexiconMatch[] = [];
  for (const hit of searchAutomaton(lexicon.automaton, normalised.text)) {
    const gluedBefore = hit.start > 0 && gapBefore[hit.start] === 0 && spacedWord[hit.start - 1] === 1;
    const gluedAfter = hit.end < length && gapBefore[hit.end] === 0 && spacedWord[hit.end] === 1;
    if (lexicon.needsStartBoundary[hit.pattern] && gluedBefore) continue;
    if (lexicon.needsEndBoundary[hit.pattern] && gluedAfter) continue;
    const entry = lexicon.entries[hit.pattern]!;
    matches.push({
      term: entry.term,
      level: entry.level,
      category: entry.category,
      start: originStart[hit.start]!,
      end: originEnd[hit.end - 1]!,
    });
  }
  return matches;
}

/** Replaces every code point inside the given spans with '*'; overlapping spans are merged. O(n + m log m). */
export function maskSpans(text: string, spans: readonly { start: number; end: number }[]): string {
  if (spans.length === 0) return text;
  const sorted = [...spans].sort((a, b) => a.start - b.start);
  let out = '';
  let cursor = 0;
  for (const span of sorted) {
    const start = Math.max(span.start, cursor);
    if (span.end <= start) continue;
    out += text.slice(cursor, start) + '*'.repeat([...text.slice(start, span.end)].length);
    cursor = span.end;
  }
  return out + text.slice(cursor);
}

export function blockTextFor(policy: FilterPolicy, language: string): string {
  return policy.blockText[language] ?? policy.blockText.zh ?? DEFAULT_BLOCK_TEXT.zh!;
}

/** Applies the lexicon and the policy to `text` (model input or output). Pure and synchronous. */
export function filterContent(text: string, options: FilterOptions): FilterResult {
  const policy = options.policy ?? DEFAULT_FILTER_POLICY;
  const matches = findLexiconMatches(text, options.lexicon);
  let maxLevel: 0 | RiskLevel = 0;
  let decision: FilterDecision = 'allow';
  for (const match of matches) {
    if (match.level > maxLevel) maxLevel = match.level;
    const action = policy.actions[match.level];
    if (ACTION_RANK[action] > ACTION_RANK[decision]) decision = action;
  }
  if (decision === 'block')
    return { decision, text: blockTextFor(policy, options.language ?? 'zh'), matches, maxLevel };
  if (decision === 'mask') {
    const masked = maskSpans(
      text,
      matches.filter((m) => policy.actions[m.level] === 'mask'),
    );
    return { decision, text: masked, matches, maxLevel };
  }
  return { decision, text, matches, maxLevel };
}
