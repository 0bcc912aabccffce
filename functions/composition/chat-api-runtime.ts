import { createInvocationRecorder } from '#composition/record-invocation';
import type { ChatApiConfig, ChatLimits } from '#config/chat-api-config';
import { maskModelOutputFor, systemPromptFor } from '#config/pipeline-config';
import { runPipeline } from '#core/answer-pipeline';
import { type ApiPrincipal, resolveApiIdentity } from '#core/api-identity';
import { apiConversationKey, type ChatRequest } from '#core/chat-request';
import { ModelError } from '#core/errors';
import type { GroundingPassage } from '#core/skills/skill';
import { API_PLATFORM } from '#platforms/types';
import { recordOutcome } from '#shared/metrics';
import { logger } from '#shared/powertools';
import { CapacityMeter } from '#stores/capacity';
import type { PipelineComposition } from './pipeline-composition';

/**
 * `POST /v1/chat` (ARCHITECTURE §4.3): the same pipeline as the chat platforms — context, FAQ cache, safety, prompt,
 * model, ledger and audit — answered synchronously. API Gateway has already checked the API key (usage plan) and the
 * JWT (the authorizer puts its claims in `requestContext.authorizer`); `resolveApiIdentity` then decides whom the call
 * answers for, before anything is read or written: the token's `tenant` and the member make the conversation key, and
 * the ledger row and audit record name the member (`userId`) and the principal that asked (`principal`, the `sub`).
 *
 * This is the chat-api's composition (like `worker-runtime.ts` for the worker); `handlers/chat-api.ts` adapts API
 * Gateway events to it.
 */

export interface ChatUsage {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
}

export interface ChatResponse {
  readonly reply: string;
  readonly usage: ChatUsage;
  /** Answered from the FAQ cache (no model call). */
  readonly cached: boolean;
  readonly requestId: string;
  /**
   * The sources a grounded answer cites, numbered as in `reply` ([1] is the first); absent when skills retrieved
   * nothing for it (docs/SKILLS.md). Links are `https:` only.
   */
  readonly sources?: readonly ChatSource[];
}

export interface ChatSource {
  readonly title: string;
  readonly section?: string;
  readonly url?: string;
}

export interface Caller {
  /** The token's claims, from the authorizer. */
  readonly principal: ApiPrincipal;
  readonly requestId: string;
  /** Epoch ms when the request reached the function. */
  readonly startedAt: number;
  /** Time left in this Lambda invocation, ms. */
  readonly remainingMs: () => number;
}

export interface ChatApi {
  readonly limits: ChatLimits;
  answer(request: ChatRequest, caller: Caller): Promise<ChatResponse>;
}

/**
 * A model failure described for the caller: nothing internal in the message, so it is shown although its status is
 * 5xx (a timeout → 504, anything else → 502). Suggested for functions/core/errors.ts if other handlers need it.
 */
export class ModelFailureForCaller extends ModelError {
  override get expose(): boolean {
    return true;
  }
}

// Time kept back from the Lambda timeout for saving the turn, the ledger and the response.
const FINISH_MARGIN_MS = 2_000;
export function createChatApi(deps: {
  readonly config: ChatApiConfig;
  readonly pipeline: PipelineComposition;
  readonly now: () => number;
}): ChatApi {
  const { config, pipeline, now } = deps;

  const recordInvocation = createInvocationRecorder({
    config,
    prices: pipeline.prices,
    maskPii: pipeline.maskPii,
    records: pipeline.records,
  });

  return {
    limits: config.limits,
    async answer(request, caller) {
      const identity = resolveApiIdentity(caller.principal, request.userId, now());
      const meter = new CapacityMeter();
      const key = apiConversationKey(identity.tenant, request.groupId, identity.userId);
      const deadline = Math.min(
        caller.startedAt + config.modelTimeoutMs,
        now() + Math.max(0, caller.remainingMs() - FINISH_MARGIN_MS),
      );
      const outcome = await runPipeline(
        {
          conversationKey: key,
          text: request.query,
          extraContext: request.context,
          maxTokens: request.maxTokens ?? config.limits.maxTokens,
          systemPrompt: systemPromptFor(config, API_PLATFORM, request.groupId),
          maskModelInput: config.maskModelInput,
          maskModelOutput: maskModelOutputFor(config, API_PLATFORM, request.groupId),
          deadline,
        },
        pipeline.ports(meter, {
          member: {
            platform: API_PLATFORM,
            tenantId: identity.tenant,
            chatId: request.groupId,
            userId: identity.userId,
          },
        }),
      );
      recordOutcome(outcome);
      if (outcome.saveTurn) {
        const { context, user, assistant } = outcome.saveTurn;
        await pipeline.contexts
          .appendTurn(key, context.handle, { user, assistant, eventId: caller.requestId }, now(), meter)
          .catch((err: unknown) => logger.error('turn not saved to context', { error: err as Error }));
      }
      if (outcome.cachePut) {
        await pipeline
          .cachePut(outcome.cachePut, meter)
          .catch((err: unknown) => logger.warn('answer not cached', { error: err as Error }));
      }
      const answered = {
        kind: 'api',
        tenantId: identity.tenant,
        chatId: request.groupId,
        userId: identity.userId,
        principal: identity.principal,
        requestId: caller.requestId,
        outcome,
        startedAt: caller.startedAt,
        finishedAt: now(),
      } as const;
      // The answer is the caller's whatever happens to its records: they are logged, not retried.
      await recordInvocation(answered, meter).catch((err: unknown) =>
        logger.error('ledger/audit not written', { error: err as Error }),
      );
      if (outcome.modelError) throw forCaller(outcome.modelError, deadline - caller.startedAt);
      const model = outcome.model;
      const prompt = model?.promptTokens ?? 0;
      const completion = model?.completionTokens ?? 0;
      return {
        reply: outcome.reply,
        usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
        cached: outcome.source === 'cache',
        requestId: caller.requestId,
        ...(outcome.sources ? { sources: outcome.sources.map(sourceForCaller) } : {}),
      };
    },
  };
}

function sourceForCaller({ title, section, url }: GroundingPassage): ChatSource {
  return { title, ...(section ? { section } : {}), ...(url?.startsWith('https://') ? { url } : {}) };
}

function forCaller(err: ModelError, budgetMs: number): ModelFailureForCaller {
  if (err.reason === 'timeout') {
    return new ModelFailureForCaller(
      `The model did not answer within ${Number((budgetMs / 1000).toFixed(1))} s (API Gateway ends requests at 29 s). ` +
        'Retry, or ask for fewer max_tokens.',
      'timeout',
      { cause: err },
    );
  }
  return new ModelFailureForCaller('The model is unavailable right now; please retry shortly.', err.reason, {
    cause: err,
  });
}
