import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { type Bm25Index, buildBm25Index, type SearchHit } from '#core/retrieval/bm25';
import { type Chunk, chunkMarkdown } from '#core/retrieval/chunk-markdown';
import { SKILL_PROTOCOL_VERSION } from '#core/skills/remote-protocol';
import {
  type RunningSkillServer,
  type SkillServerRequest,
  type SkillServerResponse,
  startSkillServer,
} from './skill-server';

/**
 * The sandbox's document-retrieval demo skill (issue 17's sandbox knowledge base): this project's own documentation,
 * README.md and every Markdown file under docs/, cut into sections at its headings and indexed with BM25 at start (`#core/retrieval`: CJK
 * bigrams and English words, so a Chinese or an English question finds the same section), served as a protocol v1
 * skill. For a question whose best sections score above a floor it answers `ground` with them (document title,
 * heading path, the section's text), so the model answers from them and the reply cites them; otherwise `decline`.
 * A command (the request names one, or the text starts with `/` or `#`) is another skill's business: `decline`.
 *
 * Lexical only, and local: the vector half, ingestion from S3 and the managed store of issue 17 are not built yet.
 */

/** Passages per question: enough to cover an answer spread over sections, few enough for a small context window. */
export const MAX_DOCS_PASSAGES = 3;
/**
 * A section is cited only if it scores at least this share of the best one, and the best at least `MIN_TOP_SCORE`:
 * a greeting or an off-topic question shares a common word with some section, but scores far lower than a question
 * about what a section explains.
 */
export const RELATIVE_FLOOR = 0.5;
export const MIN_TOP_SCORE = 7;

const REPO_ROOT = join(__dirname, '..', '..');

/** The documents indexed: README.md and every Markdown file under docs/, as repository-relative paths. */
export function docsCorpus(root: string = REPO_ROOT): { readonly path: string; readonly text: string }[] {
  const docs = readdirSync(join(root, 'docs'), { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => join(root, 'docs', name));
  return [join(root, 'README.md'), ...docs].map((file) => ({
    path: relative(root, file),
    text: readFileSync(file, 'utf8'),
  }));
}

export interface DocsIndex {
  readonly index: Bm25Index;
  readonly chunks: readonly Chunk[];
}

/** Chunks and indexes the corpus. */
export function buildDocsIndex(documents: readonly { readonly path: string; readonly text: string }[]): DocsIndex {
  const chunks = documents.flatMap((doc) => chunkMarkdown(doc));
  return { index: buildBm25Index(chunks), chunks };
}

/** The sections worth citing for `text`: the best hits above the floors, at most `MAX_DOCS_PASSAGES`. */
export function relevantSections(index: Bm25Index, text: string): SearchHit[] {
  const hits = index.search(text, MAX_DOCS_PASSAGES);
  const top = hits[0]?.score ?? 0;
  if (top < MIN_TOP_SCORE) return [];
  return hits.filter((hit) => hit.score >= top * RELATIVE_FLOOR);
}

/** What the docs skill answers to a valid request. */
export function answerDocsRequest(request: SkillServerRequest, docs: DocsIndex): SkillServerResponse {
  const version = SKILL_PROTOCOL_VERSION;
  const text = request.text.trim();
  if (request.command !== undefined || /^[/#＃／]/u.test(text)) return { version, action: 'decline' };
  const hits = relevantSections(docs.index, text);
  if (hits.length === 0) return { version, action: 'decline' };
  return {
    version,
    action: 'ground',
    passages: hits.map(({ chunk }) => ({
      text: chunk.text,
      title: `${chunk.title} (${chunk.path})`,
      ...(chunk.section ? { section: chunk.section } : {}),
    })),
  };
}

export interface DocsSkillOptions {
  /** Port on 127.0.0.1. @default 0 (any free port) */
  readonly port?: number;
  /** The repository whose README.md and docs/ are indexed. @default this checkout */
  readonly root?: string;
}

/** Indexes the docs and starts the skill on 127.0.0.1 (`skill-server.ts`); `indexMs` is the indexing time. */
export async function startDocsSkill(
  options: DocsSkillOptions = {},
): Promise<RunningSkillServer & { readonly chunks: number; readonly indexMs: number }> {
  const started = performance.now();
  const docs = buildDocsIndex(docsCorpus(options.root));
  const indexMs = performance.now() - started;
  const server = await startSkillServer({
    ...(options.port === undefined ? {} : { port: options.port }),
    answer: (request) => answerDocsRequest(request, docs),
  });
  return { ...server, chunks: docs.chunks.length, indexMs };
}
