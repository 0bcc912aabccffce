import '#shared/install-stack-source-map';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { type ChatApi, createChatApi } from '#composition/chat-api-runtime';
import { createModelClient } from '#composition/model-composition';
import { composePipeline } from '#composition/pipeline-composition';
import { loadChatApiConfig } from '#config/chat-api-config';
import { principalFromContext } from '#core/api-identity';
import { parseChatRequest } from '#core/chat-request';
import { GroupGateError } from '#core/errors';
import { createAwsClients } from '#shared/aws-clients';
import { errorResult, toRawRequest } from '#shared/http';
import { METRIC, metrics, recordMetric } from '#shared/metrics';
import { withMiddlewares } from '#shared/middy';
import { logger } from '#shared/powertools';
import { handlerTracing, traced } from '#shared/tracer';

/**
 * The `POST /v1/chat` Lambda: the principal the authorizer put in the request context → request validation →
 * `ChatApi` (composition/chat-api-runtime), which decides whom the call answers for.
 */

export function createChatApiHandler(resolve: () => Promise<ChatApi>, now: () => number = Date.now) {
  return async (event: APIGatewayProxyEvent, context: Pick<Context, 'getRemainingTimeInMillis'>) => {
    const startedAt = now();
    const requestId = event.requestContext.requestId;
    const headers = { 'x-request-id': requestId };
    logger.appendKeys({ correlation_id: requestId });
    try {
      const principal = principalFromContext(event.requestContext.authorizer);
      const api = await resolve();
      const request = parseChatRequest(toRawRequest(event), api.limits);
      const answer = await api.answer(request, {
        principal,
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
  const clients = createAwsClients({ region: config.region, wrapCalls: traced });
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
    ...handlerTracing(),
    injectLambdaContext(logger, { resetKeys: true }),
    logMetrics(metrics),
  ]);
}

export const handler = withObservability(createChatApiHandler(defaultChatApi));
