import { watch } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { KNOWLEDGE_SKILL_NAME, type KnowledgeConfig } from '#config/knowledge-config';
import type { RemoteSkillConfig } from '#config/skills-config';
import { createOpenAiEmbedder } from '#knowledge/embeddings/openai-embedder';
import { type IngestReport, ingestKnowledgeBase } from '#knowledge/ingest';
import { answerKnowledgeRequest } from '#knowledge/knowledge-skill';
import { KnowledgeStore } from '#knowledge/store/knowledge-store';
import { startSkillServer } from '../skills/skill-server';
import { directorySource } from './directory-source';
import { startEmbeddingServer } from './embedding-server';
import { createPgliteSql } from './pglite-sql';

/**
 * The sandbox's knowledge base (issue 17): this project's own README.md and docs/, ingested at start by the same code
 * AWS runs (extraction, CJK-aware chunking, embeddings over the OpenAI-compatible contract, the pgvector store's SQL),
 * into PGlite with pgvector, and served by the knowledge skill over protocol v1. The embedding model is the sandbox's
 * hashing embedder behind a local `/v1/embeddings` server (`embedding-server.ts`). Edits to README.md and docs/
 * are re-ingested within a second (`reingest` runs on a change), as S3 notifications do in AWS.
 */

export const SANDBOX_KB_ID = 'groupgate-docs';
/** The chat platforms' groups; not `/v1/chat` (`api:*`), whose callers in the sandbox get the model's answer as is. */
const CHAT_GROUPS = ['feishu:*', 'dingtalk:*', 'wecom:*', 'slack:*'];
const REPO_ROOT = join(__dirname, '..', '..');

export interface SandboxKnowledge {
  readonly config: KnowledgeConfig;
  /** The remote skill entry for the handlers' skills configuration (`withKnowledgeSkill`). */
  readonly skill: RemoteSkillConfig;
  readonly firstIngest: IngestReport;
  readonly ingestMs: number;
  reingest(): Promise<IngestReport>;
  stop(): Promise<void>;
}

/** README.md and every Markdown file under docs/, repository-relative. */
export async function projectDocs(root: string = REPO_ROOT): Promise<string[]> {
  const docs = (await readdir(join(root, 'docs'), { recursive: true, encoding: 'utf8' }))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`);
  return ['README.md', ...docs];
}

export async function startSandboxKnowledge(
  options: { readonly root?: string; readonly watchDocs?: boolean } = {},
): Promise<SandboxKnowledge> {
  const root = options.root ?? REPO_ROOT;
  const sql = await createPgliteSql();
  const embeddings = await startEmbeddingServer();
  const cleanup = async () => {
    await embeddings.stop();
    await sql.close();
  };
  try {
    const embedder = createOpenAiEmbedder({
      baseUrl: embeddings.url,
      model: embeddings.model,
      dimensions: embeddings.dimensions,
    });
    const store = new KnowledgeStore(sql, { dimensions: embeddings.dimensions });
    await store.migrate();
    const config: KnowledgeConfig = {
      bases: [
        { id: SANDBOX_KB_ID, title: 'GroupGate documentation', prefix: `${SANDBOX_KB_ID}/`, groups: CHAT_GROUPS },
      ],
    };
    const source = directorySource(root, () => projectDocs(root));
    let running: Promise<IngestReport> | undefined;
    const reingest = (): Promise<IngestReport> => {
      // One run at a time; a change during a run is picked up by the next.
      const next = (running ?? Promise.resolve()).then(
        () => ingestKnowledgeBase({ id: SANDBOX_KB_ID }, { source, store, embedder }),
        () => ingestKnowledgeBase({ id: SANDBOX_KB_ID }, { source, store, embedder }),
      );
      running = next;
      return next;
    };
    const started = performance.now();
    const firstIngest = await reingest();
    const ingestMs = performance.now() - started;
    const server = await startSkillServer({
      answer: (request) => answerKnowledgeRequest(request, { config, store, embedder }),
    });
    let timer: NodeJS.Timeout | undefined;
    const onChange = () => {
      clearTimeout(timer);
      timer = setTimeout(() => void reingest().catch(() => undefined), 500);
    };
    const watchers = options.watchDocs
      ? [watch(join(root, 'docs'), { recursive: true }, onChange), watch(join(root, 'README.md'), onChange)]
      : [];
    return {
      config,
      skill: {
        name: KNOWLEDGE_SKILL_NAME,
        description:
          'GroupGate documentation: questions about setting up and running it are answered with cited sections',
        url: server.url,
        timeoutMs: 3000,
      },
      firstIngest,
      ingestMs,
      reingest,
      async stop() {
        for (const watcher of watchers) watcher.close();
        clearTimeout(timer);
        await server.stop();
        await running?.catch(() => undefined);
        await cleanup();
      },
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
