import '#shared/install-stack-source-map';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { knowledgeRuntime } from '#composition/knowledge-runtime';
import type { SkillResponse } from '#core/skills/remote-protocol';
import { parseSkillRequest } from '#core/skills/skill-request';
import { answerKnowledgeRequest } from '#knowledge/knowledge-skill';
import { withMiddlewares } from '#shared/middy';
import { logger } from '#shared/powertools';

/**
 * The knowledge skill Lambda (docs/KNOWLEDGE.md): GroupGate's worker invokes it by ARN with a skill protocol v1
 * request; it grounds the question in the knowledge bases the request's group may read (`answerKnowledgeRequest`).
 * Settings are validated on the first invocation (a `ConfigError` naming every problem fails it, and the worker treats
 * the skill as declining). A request that is not v1 is a function error with the reason, never a guess; a store that
 * cannot answer (the cluster resuming from a pause, no ingestion yet) is logged and declined, so the question goes on
 * to the model without sources.
 */
export const handler = withMiddlewares(
  async (event: unknown): Promise<SkillResponse> => {
    const parsed = parseSkillRequest(event);
    if (!parsed.ok) throw new Error(`not a skill protocol v1 request: ${parsed.reason}`);
    const runtime = knowledgeRuntime();
    try {
      return await answerKnowledgeRequest(parsed.request, {
        config: runtime.config.knowledge,
        store: runtime.store,
        embedder: runtime.embedder,
        minSimilarity: runtime.config.minSimilarity,
        onDegraded: (reason) => logger.warn('knowledge retrieval degraded', { reason }),
      });
    } catch (err) {
      logger.error('knowledge retrieval failed; declining', { error: err as Error });
      return { version: parsed.request.version, action: 'decline' };
    }
  },
  [injectLambdaContext(logger)],
);
