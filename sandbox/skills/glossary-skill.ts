import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SKILL_PROTOCOL_VERSION } from '#core/skills/remote-protocol';
import * as z from '#shared/zod';
import {
  type RunningSkillServer,
  type SkillServerCall,
  type SkillServerRequest,
  type SkillServerResponse,
  startSkillServer,
} from './skill-server';

export { MAX_RECORDED_CALLS, MAX_REQUEST_BYTES, parseSkillRequest as parseGlossaryRequest } from './skill-server';

/**
 * The sandbox's demo third-party skill: GroupGate's own vocabulary (`glossary.json`), served over HTTP the way a
 * skill author's Lambda function answers an Invoke, speaking skill protocol v1 (docs/SKILLS.md):
 * - `/define <term>` or `/释义 <term>` (NFKC, any case: `／DEFINE`) → `answer` with the definition, or with
 *   "No entry for …; known terms: …" (still an answer: the member asked the glossary, not the model);
 * - a message that mentions glossary terms → `ground`, one passage per term (at most 3, in the order they appear);
 * - anything else → `decline`.
 * The command is read from the request's `command`/`args` when GroupGate matched it by the skill's `commands`, else
 * from the text's first word, so the skill works with or without `commands` in its configuration (without them it
 * sees every message of the groups that enable it, which grounding needs).
 *
 * HTTP: `POST /` only (404 elsewhere, 405 for other methods); a body over 64 KiB is 413; a body that is not a v1
 * request (bad JSON, another version, a wrong shape) is 400 with the reason as `{"error": "…"}`. Fields it does not
 * know are ignored, so a request carrying more than v1 names still works. It answers at once, well within any
 * `deadlineMs`.
 */

/** The commands it recognises, as written after NFKC and lower-casing. */
export const GLOSSARY_COMMANDS = ['/define', '/释义'] as const;
/** Passages per grounded message: a message about many terms gets the first few, not the whole glossary. */
export const MAX_GLOSSARY_PASSAGES = 3;
/** How much of an unknown term the reply echoes back. */
const MAX_ECHOED_TERM = 60;

export const GLOSSARY_FILE = join(__dirname, 'glossary.json');

// ---------------------------------------------------------------- the glossary

const entrySchema = z.strictObject({
  /** The passage's section: at most 200 characters, as protocol v1 allows. */
  term: z.string().check(z.trim(), z.minLength(2), z.maxLength(60)),
  /** The Chinese name, where there is a natural one. */
  zh: z.optional(z.string().check(z.trim(), z.minLength(1), z.maxLength(30))),
  aliases: z._default(z.array(z.string().check(z.trim(), z.minLength(2), z.maxLength(60))), []),
  /** Short enough that the reply and the passage stay far below protocol v1's 4,000 characters. */
  definition: z.string().check(z.trim(), z.minLength(20), z.maxLength(1000)),
});

const glossaryFileSchema = z.strictObject({
  title: z.string().check(z.minLength(1), z.maxLength(200)),
  entries: z.array(entrySchema).check(z.minLength(1)),
});

export type GlossaryEntry = z.output<typeof entrySchema>;

export interface Glossary {
  /** The passages' title. */
  readonly title: string;
  readonly entries: readonly GlossaryEntry[];
  /** The entry a `/define` argument names (term, Chinese name or alias, any case or separator), if any. */
  lookup(term: string): GlossaryEntry | undefined;
  /** The entries a message mentions, in the order of their first mention, each once. */
  mentioned(text: string): GlossaryEntry[];
}

/** Letters of scripts written with spaces between words, and digits: what a Latin term must not touch. */
const WORD_CHAR = '[\\p{Script=Latin}\\p{Script=Greek}\\p{Script=Cyrillic}\\p{N}_]';
/** Scripts written without spaces: a term in them is found as a plain substring. */
const UNSPACED_SCRIPT = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;
const SEPARATORS = /[\s\-_]+/u;

/** The form both terms and messages are compared in: NFKC (full-width letters, `／`) and lower case. */
const fold = (text: string): string => text.normalize('NFKC').toLowerCase();

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/**
 * How a name is found in a message. CJK (or mixed) names: as a substring, spaces optional (`AI 卡片` = `AI卡片`).
 * Latin names: as whole words, not inside another word (`DLQ` not in `DLQX`) but next to CJK text (`FAQ cache是`),
 * with space, `-` or `_` between words alike (`scale to zero`) and an optional plural ending.
 */
function namePattern(name: string): RegExp {
  const words = fold(name).split(SEPARATORS).filter(Boolean).map(escapeRegExp);
  if (UNSPACED_SCRIPT.test(name)) return new RegExp(words.join('[\\s\\-_]*'), 'gu');
  return new RegExp(`(?<!${WORD_CHAR})${words.join('[\\s\\-_]+')}(?:e?s)?(?!${WORD_CHAR})`, 'gu');
}

/** A `/define` argument as looked up: folded, separators as one space, quotes and end punctuation dropped. */
function lookupKey(term: string): string {
  return fold(term)
    .replace(/^[\s"'`“”‘’「」『』]+|[\s"'`“”‘’「」『』?!.,:;。？！，：；]+$/gu, '')
    .split(SEPARATORS)
    .filter(Boolean)
    .join(' ');
}

const compact = (key: string): string => key.replace(/ /g, '');

const namesOf = (entry: GlossaryEntry): string[] => [entry.term, ...(entry.zh ? [entry.zh] : []), ...entry.aliases];

/** Builds a glossary; throws when a name would be ambiguous (two entries answering to it). */
export function buildGlossary(file: unknown): Glossary {
  const { title, entries } = glossaryFileSchema.parse(file);
  // Keyed without separators too, so `/释义 AI卡片` finds `AI 卡片` and `/define scaletozero` finds `scale-to-zero`.
  const byKey = new Map<string, GlossaryEntry>();
  const matchers: { entry: GlossaryEntry; pattern: RegExp }[] = [];
  for (const entry of entries) {
    for (const name of namesOf(entry)) {
      for (const key of new Set([lookupKey(name), compact(lookupKey(name))])) {
        const taken = byKey.get(key);
        if (taken && taken !== entry) throw new Error(`glossary: "${name}" names both ${taken.term} and ${entry.term}`);
        byKey.set(key, entry);
      }
      matchers.push({ entry, pattern: namePattern(name) });
    }
  }
  return {
    title,
    entries,
    lookup(term) {
      const key = lookupKey(term);
      // A plural asked for (`/define circuit breakers`) finds the singular entry.
      const candidates = [key, key.replace(/s$/, ''), key.replace(/es$/, '')];
      for (const candidate of [...candidates, ...candidates.map(compact)]) {
        const entry = byKey.get(candidate);
        if (entry) return entry;
      }
      return undefined;
    },
    mentioned(text) {
      const folded = fold(text);
      const hits = matchers.flatMap(({ entry, pattern }) =>
        [...folded.matchAll(pattern)].map((m) => ({ entry, start: m.index, end: m.index + m[0].length })),
      );
      // The longest mention wins where two overlap: "context scope" is about the scope, not about context.
      hits.sort((a, b) => b.end - b.start - (a.end - a.start) || a.start - b.start);
      const kept: typeof hits = [];
      for (const hit of hits) {
        if (!kept.some((k) => hit.start < k.end && k.start < hit.end)) kept.push(hit);
      }
      kept.sort((a, b) => a.start - b.start);
      return [...new Set(kept.map((hit) => hit.entry))];
    },
  };
}

let loaded: Glossary | undefined;

/** The glossary in `glossary.json`, read and checked once. */
export function loadGlossary(): Glossary {
  loaded ??= buildGlossary(JSON.parse(readFileSync(GLOSSARY_FILE, 'utf8')));
  return loaded;
}

// ---------------------------------------------------------------- protocol v1

export type GlossaryRequest = SkillServerRequest;

/** The glossary's answers are plain protocol v1 responses. */
export type GlossaryResponse = SkillServerResponse;

const nameWithZh = (entry: GlossaryEntry): string => (entry.zh ? `${entry.term} (${entry.zh})` : entry.term);
const definitionOf = (entry: GlossaryEntry): string => `${nameWithZh(entry)}: ${entry.definition}`;
const knownTerms = (glossary: Glossary): string => glossary.entries.map(nameWithZh).join(', ');

/** The `/define` command and its argument, from the request's fields or else from the text's first word. */
function defineArgument(request: GlossaryRequest): string | undefined {
  const recognised = (word: string) => (GLOSSARY_COMMANDS as readonly string[]).includes(fold(word).trim());
  if (request.command !== undefined && recognised(request.command)) return (request.args ?? '').trim();
  const [word = '', ...rest] = request.text.normalize('NFKC').trim().split(/\s+/u);
  return recognised(word) ? rest.join(' ') : undefined;
}

/** What the glossary answers to a valid request. */
export function answerGlossaryRequest(request: GlossaryRequest, glossary: Glossary = loadGlossary()): GlossaryResponse {
  const version = SKILL_PROTOCOL_VERSION;
  const term = defineArgument(request);
  if (term !== undefined) {
    if (term === '') {
      return {
        version,
        action: 'answer',
        reply: `Usage: /define <term> (or /释义 <term>). Known terms: ${knownTerms(glossary)}.`,
      };
    }
    const entry = glossary.lookup(term);
    if (entry) return { version, action: 'answer', reply: definitionOf(entry) };
    const echoed = term.length > MAX_ECHOED_TERM ? `${term.slice(0, MAX_ECHOED_TERM)}…` : term;
    return { version, action: 'answer', reply: `No entry for ${echoed}; known terms: ${knownTerms(glossary)}.` };
  }
  const mentioned = glossary.mentioned(request.text).slice(0, MAX_GLOSSARY_PASSAGES);
  if (mentioned.length === 0) return { version, action: 'decline' };
  return {
    version,
    action: 'ground',
    // No `url`: the glossary has no public page, and protocol v1 links must be real https addresses.
    passages: mentioned.map((entry) => ({ text: definitionOf(entry), title: glossary.title, section: entry.term })),
  };
}

// ---------------------------------------------------------------- HTTP

export type GlossaryCall = SkillServerCall;
export type RunningGlossarySkill = RunningSkillServer;

export interface GlossarySkillOptions {
  /** Port on 127.0.0.1. @default 0 (any free port) */
  readonly port?: number;
}

/** Starts the glossary skill on 127.0.0.1 (`skill-server.ts`: POST / only, 64 KiB, v1 requests). */
export async function startGlossarySkill(options: GlossarySkillOptions = {}): Promise<RunningGlossarySkill> {
  const glossary = loadGlossary();
  return startSkillServer({ ...options, answer: (request) => answerGlossaryRequest(request, glossary) });
}
