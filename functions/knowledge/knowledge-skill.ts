import { type KnowledgeConfig, knowledgeBasesFor } from '#config/knowledge-config';
import {
  MAX_PASSAGE_SECTION_CHARS,
  MAX_PASSAGE_TITLE_CHARS,
  SKILL_PROTOCOL_VERSION,
  type SkillPassage,
  type SkillResponse,
} from '#core/skills/remote-protocol';
import type { SkillRequestInput } from '#core/skills/skill-request';
import type { Embedder } from './embeddings/embedder';
import type { KnowledgeHit, KnowledgeStore } from './store/knowledge-store';

/**
 * The knowledge skill (protocol v1): grounds a member's question in the passages of the knowledge bases their group
 * may read, or declines. The same function serves the Lambda handler (Aurora through the Data API) and the sandbox's
 * skill server (PGlite), so what the sandbox shows is what AWS runs.
 *
 * Access control happens here and in the SQL: the group is the worker's `origin` (from the verified platform event,
 * never from the message text), its bases come from the configuration, and the store is queried with those ids only.
 * No origin, or no base for the group: decline without a query.
 *
 * Relevance: hybrid retrieval always ranks something, so a passage is cited only when it is relevant on its own
 * terms: its BM25 score at least `MIN_LEXICAL_SCORE` and `RELATIVE_FLOOR` of the best one (a greeting shares a common
 * word with some section, but scores far lower than a question about what the section explains), or its cosine
 * similarity at least `minSimilarity` (the embedding model's own scale: set per model).
 */

export interface KnowledgeSkillDeps {
  readonly config: KnowledgeConfig;
  readonly store: Pick<KnowledgeStore, 'search'>;
  /** Absent, or failing: lexical retrieval alone (the answer still comes; logged by the caller through `onDegraded`). */
  readonly embedder?: Embedder;
  readonly minSimilarity?: number;
  readonly maxPassages?: number;
  readonly onDegraded?: (reason: string) => void;
}

export const MAX_KNOWLEDGE_PASSAGES = 3;
export const MIN_LEXICAL_SCORE = 7;
export const RELATIVE_FLOOR = 0.5;
/** For the sandbox's hashing embedder; a neural model's scale differs (docs/KNOWLEDGE.md). */
export const DEFAULT_MIN_SIMILARITY = 0.55;
/** Time kept back from the request's deadline for the answer to travel back. */
const DEADLINE_MARGIN_MS = 200;

export async function answerKnowledgeRequest(
  request: SkillRequestInput,
  deps: KnowledgeSkillDeps,
): Promise<SkillResponse> {
  const version = SKILL_PROTOCOL_VERSION;
  const decline: SkillResponse = { version, action: 'decline' };
  const text = request.text.trim();
  if (request.command !== undefined || text === '' || /^[/#＃／]/u.test(text) || !request.origin) return decline;
  const kbIds = knowledgeBasesFor(deps.config, `${request.origin.platform}:${request.origin.chatId}`);
  if (kbIds.length === 0) return decline;

  const embedding = await queryEmbedding(text, request.deadlineMs, deps);
  const hits = await deps.store.search({
    kbIds,
    text,
    ...(embedding ? { embedding } : {}),
    k: (deps.maxPassages ?? MAX_KNOWLEDGE_PASSAGES) * 2,
  });
  const relevant = relevantHits(hits, deps.minSimilarity ?? DEFAULT_MIN_SIMILARITY).slice(
    0,
    deps.maxPassages ?? MAX_KNOWLEDGE_PASSAGES,
  );
  if (relevant.length === 0) return decline;
  return { version, action: 'ground', passages: relevant.map(passageOf) };
}

/** The hits worth citing, in fused order (see the module comment). */
export function relevantHits(hits: readonly KnowledgeHit[], minSimilarity: number): KnowledgeHit[] {
  const bestLexical = Math.max(0, ...hits.map((hit) => hit.lexicalScore ?? 0));
  const lexicalFloor = Math.max(MIN_LEXICAL_SCORE, bestLexical * RELATIVE_FLOOR);
  return hits.filter(
    (hit) => (hit.lexicalScore ?? 0) >= lexicalFloor || (hit.similarity ?? Number.NEGATIVE_INFINITY) >= minSimilarity,
  );
}

/** Without a link members can open, the title names the document's key, so they can still find it. */
function passageOf(hit: KnowledgeHit): SkillPassage {
  const url = hit.url?.startsWith('https://') ? hit.url : undefined;
  return {
    text: hit.text,
    title: (url ? hit.title : `${hit.title} (${hit.docKey})`).slice(0, MAX_PASSAGE_TITLE_CHARS),
    ...(hit.section ? { section: hit.section.slice(0, MAX_PASSAGE_SECTION_CHARS) } : {}),
    ...(url ? { url } : {}),
  };
}

async function queryEmbedding(
  text: string,
  deadlineMs: number,
  deps: KnowledgeSkillDeps,
): Promise<Float32Array | undefined> {
  if (!deps.embedder) return undefined;
  const budget = Math.max(0, Math.floor(deadlineMs / 2) - DEADLINE_MARGIN_MS);
  try {
    const [vector] = await deps.embedder.embed([text], 'query', { signal: AbortSignal.timeout(Math.max(1, budget)) });
    return vector;
  } catch (err) {
    deps.onDegraded?.(`query embedding failed, lexical retrieval only: ${err instanceof Error ? err.message : err}`);
    return undefined;
  }
}
