import type { Automaton } from './aho-corasick';
import { type CompiledLexicon, DEFAULT_FILTER_POLICY, type FilterPolicy, filterContent } from './content-filter';
import { normaliseForMatching } from './match-normaliser';

/**
 * The lexicon side of the stream guard (`stream-guard.ts`): the same filter as the final output check, plus what
 * the guard needs to know about an answer that is still growing. Both functions are pure and O(n).
 */

/** `start` inclusive, `end` exclusive, UTF-16 offsets in the text that was screened. */
export interface TextSpan {
  readonly start: number;
  readonly end: number;
}

export interface ScreenVerdict {
  readonly decision: 'allow' | 'mask' | 'block';
  /** The text with mask-level matches replaced by '*'; meaningless when `decision` is 'block'. */
  readonly text: string;
  /** Every lexicon match, whatever the policy does with it: the guard never cuts inside one. */
  readonly spans: readonly TextSpan[];
}

/** Where a text that may still grow is not final for the lexicon. */
export interface LexiconTail {
  /**
   * Matches ending at or before this offset are final: no later text can remove or add one there. It excludes the
   * trailing run of glued letters/digits of a space-separated script ("ass" may become "assist", and a term that
   * needs an end boundary matches only once the word has ended).
   */
  readonly settledEnd: number;
  /**
   * Start of the longest suffix of the text (after normalisation) that is the beginning of some term, so later text
   * could complete a term there whatever separators, case or width it uses; `text.length` when there is none.
   */
  readonly pendingFrom: number;
  /**
   * Ascending offsets where cutting the text would change what the lexicon finds in the part before the cut:
   * between two glued letters/digits of a space-separated script, and inside one normalisation cluster (a base
   * character and its combining marks, or an astral character).
   */
  readonly noCut: readonly number[];
}

/** Depth (length of the trie path) of every automaton node, computed once per compiled lexicon. */
const depthCache = new WeakMap<Automaton, Int32Array>();

function depthsOf(automaton: Automaton): Int32Array {
  const cached = depthCache.get(automaton);
  if (cached) return cached;
  const depths = new Int32Array(automaton.nodes.length);
  const queue = [0];
  for (let head = 0; head < queue.length; head++) {
    const node = queue[head]!;
    for (const child of automaton.nodes[node]!.next.values()) {
      depths[child] = depths[node]! + 1;
      queue.push(child);
    }
  }
  depthCache.set(automaton, depths);
  return depths;
}

/** Length of the longest suffix of `text` that is a prefix of some pattern: the trie depth of the final state. */
function openPrefixLength(automaton: Automaton, text: string): number {
  const { nodes } = automaton;
  let state = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    while (state !== 0 && !nodes[state]!.next.has(code)) state = nodes[state]!.fail;
    state = nodes[state]!.next.get(code) ?? 0;
  }
  return depthsOf(automaton)[state]!;
}

/** `screen` and `lexiconTail` ports backed by a compiled lexicon and the policy of the final output filter. */
export function lexiconStreamScreen(
  lexicon: CompiledLexicon,
  policy: FilterPolicy = DEFAULT_FILTER_POLICY,
): {
  screen(text: string): ScreenVerdict;
  lexiconTail(text: string): LexiconTail;
} {
  return {
    screen(text) {
      const result = filterContent(text, { lexicon, policy });
      return { decision: result.decision, text: result.text, spans: result.matches };
    },
    lexiconTail(text) {
      const { text: normalised, originStart, originEnd, gapBefore, spacedWord } = normaliseForMatching(text);
      const length = normalised.length;
      const noCut: number[] = [];
      for (let i = 0; i < length; i++) {
        const start = originStart[i]!;
        if (i > 0 && originStart[i - 1] === start) continue; // another unit of the same cluster
        if (i > 0 && gapBefore[i] === 0 && spacedWord[i - 1] === 1 && spacedWord[i] === 1) noCut.push(start);
        for (let p = start + 1; p < originEnd[i]!; p++) noCut.push(p);
      }
      let settledEnd = text.length;
      if (length > 0 && originEnd[length - 1] === text.length && spacedWord[length - 1] === 1) {
        let first = length - 1;
        while (first > 0 && gapBefore[first] === 0 && spacedWord[first - 1] === 1) first--;
        settledEnd = originStart[first]!;
      }
      const open = openPrefixLength(lexicon.automaton, normalised);
      const pendingFrom = open === 0 ? text.length : originStart[length - open]!;
      return { settledEnd, pendingFrom, noCut };
    },
  };
}
