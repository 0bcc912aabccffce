import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { createModelClient } from '#composition/model-composition';
import { composePipeline, type PipelineComposition } from '#composition/pipeline-composition';
import { createInvocationRecorder } from '#composition/record-invocation';
import { type ChatApiConfig, type ChatLimits, loadChatApiConfig } from '#config/chat-api-config';
import { maskModelOutputFor, systemPromptFor } from '#config/pipeline-config';
import { runPipeline } from '#core/answer-pipeline';
import { apiConversationKey, type ChatRequest, parseChatRequest } from '#core/chat-request';
import { GroupGateError, ModelError, UnauthorizedError } from '#core/errors';
import { API_PLATFORM } from '#platforms/types';
import { createAwsClients } from '#shared/aws-clients';
import { errorResult, toRawRequest } from '#shared/http';
import { METRIC, metrics, recordMetric, recordOutcome } from '#shared/metrics';
import { withMiddlewares } from '#shared/middy';
import { logger } from '#shared/powertools';
import { tracer } from '#shared/tracer';
import { CapacityMeter } from '#stores/capacity';

/**
 * `POST /v1/chat` (ARCHITECTURE §4.3): the same pipeline as the chat platforms — context, FAQ cache, safety, prompt,
 * model, ledger and audit — answered synchronously. API Gateway has already checked the API key (usage plan) and the
 * JWT (the authorizer puts its `sub` in `requestContext.authorizer`); the JWT subject is the tenant of the
 * conversation key, so callers authenticated as different subjects never share context even with equal headers.
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
}

export interface Caller {
  /** The JWT subject from the authorizer. */
  readonly tenant: string;
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
      const meter = new CapacityMeter();
      const key = apiConversationKey(caller.tenant, request.groupId, request.userId);
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
          member: { platform: API_PLATFORM, tenantId: caller.tenant, chatId: request.groupId, userId: request.userId },
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
        tenantId: caller.tenant,
        chatId: request.groupId,
        userId: request.userId,
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
      };
    },
  };
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

/** The JWT subject the authorizer put in the request context; its absence means the route is misconfigured. */
function tenantOf(event: APIGatewayProxyEvent): string {
  const sub: unknown = event.requestContext.authorizer?.sub;
  if (typeof sub !== 'string' || sub.length === 0) throw new UnauthorizedError('No authenticated caller');
  return sub;
}

export function createChatApiHandler(resolve: () => Promise<ChatApi>, now: () => number = Date.now) {
  return async (event: APIGatewayProxyEvent, context: Pick<Context, 'getRemainingTimeInMillis'>) => {
    const startedAt = now();
    const requestId = event.requestContext.requestId;
    const headers = { 'x-request-id': requestId };
    logger.appendKeys({ correlation_id: requestId });
    try {
      const tenant = tenantOf(event);
      const api = await resolve();
      const request = parseChatRequest(toRawRequest(event), api.limits);
      const answer = await api.answer(request, {
        tenant,
        requestId,
        startedAt,
        remainingMs: () => context.getRemainingTimeInMillis(),
      });
      logger.info('chat answered', { cached: answer.cached, latencyMs: now() - startedAt });
      return {
        statusCode: 200,
        headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
        body: JSON.stringify(answer),
      } satisfies APIGatewayProxyResult;
    } catch (err) {
      if (err instanceof GroupGateError && err.expose) {
        logger.warn('chat rejected', { code: err.code, reason: err.message, status: err.httpStatus });
      } else {
        logger.error('chat failed', { error: err as Error });
      }
      if (!(err instanceof GroupGateError) || err.httpStatus >= 500) recordMetric(METRIC.errors);
      return errorResult(err, headers);
    } finally {
      logger.removeKeys(['correlation_id']);
    }
  };
}

async function buildDefaultChatApi(env: NodeJS.ProcessEnv = process.env): Promise<ChatApi> {
  const config = loadChatApiConfig(env);
  const clients = createAwsClients({ region: config.region });
  tracer.captureAWSv3Client(clients.dynamo); // the document client shares this middleware stack
  const model = createModelClient(config, { requestTimeoutMs: config.modelTimeoutMs });
  return createChatApi({ config, pipeline: composePipeline({ config, clients, model, now: Date.now }), now: Date.now });
}

let cached: Promise<ChatApi> | undefined;
const defaultChatApi = (): Promise<ChatApi> => {
  cached ??= buildDefaultChatApi().catch((err: unknown) => {
    cached = undefined;
    throw err;
  });
  return cached;
};

/**
 * The chat-api's middleware: the handler's trace segment (the response carries the member's answer, so it stays out
 * of it), the Lambda context in every log line, and one EMF flush of the call's metrics.
 */
export function withObservability(
  fn: (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>,
) {
  return withMiddlewares(fn, [
    captureLambdaHandler(tracer, { captureResponse: false }),
    injectLambdaContext(logger, { resetKeys: true }),
    logMetrics(metrics),
  ]);
}

export const handler = withObservability(createChatApiHandler(defaultChatApi));
