import '#shared/install-stack-source-map';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { createDefaultIngestDeps } from '#composition/ingest-deps';
import { GroupGateError } from '#core/errors';
import { type IngestDeps, ingest } from '#core/ingest';
import { errorResult, toProxyResult, toRawRequest } from '#shared/http';
import { countRejection, METRIC, metrics, recordMetric } from '#shared/metrics';
import { withMiddlewares } from '#shared/middy';
import { logger } from '#shared/powertools';

/**
 * The webhook Lambda: verify, dedup, enqueue, answer 200 in milliseconds. All decisions are in `ingest`; this
 * file only adapts API Gateway events and maps outcomes to logs and errors to HTTP.
 */
export function createWebhookHandler(resolveDeps: () => Promise<IngestDeps>) {
  return async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
    const platform = event.pathParameters?.platform ?? event.path.split('/').filter(Boolean).pop() ?? '';
    recordMetric(METRIC.webhookRequests);
    try {
      const deps = await resolveDeps();
      const { response, outcome } = await ingest(platform, toRawRequest(event), deps);
      if (outcome.kind === 'enqueued') recordMetric(METRIC.enqueued);
      if (outcome.kind === 'duplicate') recordMetric(METRIC.duplicates);
      if ('eventId' in outcome && outcome.eventId)
        logger.appendKeys({ correlation_id: `${platform}#${outcome.eventId}` });
      logger.info('webhook handled', { platform, outcome });
      return toProxyResult(response);
    } catch (err) {
      logRejection(platform, err);
      return errorResult(err);
    } finally {
      logger.removeKeys(['correlation_id']);
    }
  };
}

function logRejection(platform: string, err: unknown): void {
  if (err instanceof GroupGateError && err.expose) {
    countRejection(err);
    logger.warn('webhook rejected', { platform, code: err.code, reason: err.message });
  } else {
    recordMetric(METRIC.errors);
    logger.error('webhook failed', { platform, error: err as Error });
  }
}

/** Re-exported: tests, benches and the sandbox build the webhook's dependencies from here. */
export { createDefaultIngestDeps };

let cached: Promise<IngestDeps> | undefined;
const defaultDeps = (): Promise<IngestDeps> => {
  cached ??= createDefaultIngestDeps().catch((err: unknown) => {
    cached = undefined;
    throw err;
  });
  return cached;
};

export const handler = withMiddlewares(createWebhookHandler(defaultDeps), [
  injectLambdaContext(logger, { resetKeys: true }),
  logMetrics(metrics),
]);
