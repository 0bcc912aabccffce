import {
  type CompiledLexicon,
  compileLexicon,
  type FilterPolicy,
  filterContent,
  type LexiconEntry,
} from '#core/safety/content-filter';
import { createPiiMasker } from '#core/safety/pii';
import { type StreamGuard, streamGuardFactory } from '#core/safety/stream-guard';
import { seededRandom } from '../../../../sandbox/faults';

/** Shared fixtures for the stream guard tests: the real lexicon filter and PII masker, as the worker wires them. */

export const ENTRIES: LexiconEntry[] = [
  { term: 'badword', level: 2, category: 'profanity' },
  { term: '赌博', level: 2, category: 'gambling' },
  { term: 'café', level: 2, category: 'test-accent' },
  { term: 'leak plan', level: 3, category: 'confidential' },
  { term: '敏感词', level: 3, category: 'politics' },
  { term: 'meh', level: 1, category: 'tone' },
];
export const LEXICON = compileLexicon(ENTRIES);

const masker = createPiiMasker();
export const maskPiiPort = (text: string) => {
  const result = masker(text);
  return { text: result.text, found: result.findings.reduce((n, f) => n + f.count, 0) };
};

export function guardFactory(lexicon: CompiledLexicon = LEXICON, policy?: FilterPolicy): () => StreamGuard {
  return streamGuardFactory({ lexicon, maskPii: maskPiiPort, ...(policy ? { policy } : {}) });
}

/** What the final (non-streamed) path produces for a whole answer: output filter, then PII masking. */
export function finalReply(raw: string, lexicon: CompiledLexicon = LEXICON, policy?: FilterPolicy): string | undefined {
  const filtered = filterContent(raw, { lexicon, ...(policy ? { policy } : {}) });
  return filtered.decision === 'block' ? undefined : maskPiiPort(filtered.text).text;
}

export interface StreamRun {
  /** Every text a push returned, in order. */
  readonly snapshots: readonly string[];
  /** `complete` of the whole raw text. */
  readonly final: string | undefined;
  readonly blocked: boolean;
  /** Snapshots returned after the guard reported `blocked` (must stay empty). */
  readonly afterBlocked: readonly string[];
}

/** Feeds `deltas` one by one (the whole text so far each time), then completes. */
export function streamThrough(guard: StreamGuard, deltas: readonly string[]): StreamRun {
  const snapshots: string[] = [];
  const afterBlocked: string[] = [];
  let raw = '';
  for (const delta of deltas) {
    raw += delta;
    const wasBlocked = guard.blocked;
    const shown = guard.push(raw);
    if (shown === undefined) continue;
    (wasBlocked ? afterBlocked : snapshots).push(shown);
  }
  const final = guard.complete(raw);
  return { snapshots, final, blocked: guard.blocked, afterBlocked };
}

/** A small deterministic generator (the sandbox's mulberry32), so a failing case can be replayed from its seed. */
export const seeded = seededRandom;

export function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

/** Splits `text` into deltas of 1–`maxDelta` UTF-16 units (so surrogate pairs may be split, as a buggy server might). */
export function randomSplit(text: string, random: () => number, maxDelta = 8): string[] {
  const deltas: string[] = [];
  let i = 0;
  while (i < text.length) {
    const size = 1 + Math.floor(random() * maxDelta);
    deltas.push(text.slice(i, i + size));
    i += size;
  }
  return deltas;
}

/** Every two-delta split, plus one unit per delta. */
export function everySplit(text: string): string[][] {
  const splits: string[][] = [[...text.split('')]];
  for (let k = 1; k < text.length; k++) splits.push([text.slice(0, k), text.slice(k)]);
  return splits;
}

/**
 * Clean filler: no digits, no lexicon term, no word ending in the beginning of a term ('b', 'ba', 'l', '敏', …),
 * nothing a PII detector reads.
 */
export const FILLER = [
  'the quick report is ready',
  'for review today',
  '我们明天开会讨论项目进度',
  '好的，',
  'thanks, ',
  '请看一下。',
  'see you soon! ',
  '\n\n',
  '- item one\n',
];

export function filler(random: () => number, pieces = 3): string {
  let text = '';
  for (let i = 0; i < pieces; i++) text += `${pick(random, FILLER)} `;
  return text;
}
