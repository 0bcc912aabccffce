import '#shared/install-stack-source-map';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { lazyStreamSnapshots } from '#composition/lazy-stream-snapshots';
import { loadWebhookConfig } from '#config/runtime-config';
import { GroupGateError } from '#core/errors';
import { type IngestDeps, ingest } from '#core/ingest';
import { createPlatformResolver } from '#platforms/registry';
import { awsJsonClientFromEnv, DYNAMODB, SECRETS_MANAGER, SQS } from '#shared/aws-json-client';
import { errorResult, toProxyResult, toRawRequest } from '#shared/http';
import { countRejection, METRIC, metrics, recordMetric } from '#shared/metrics';
import { withMiddlewares } from '#shared/middy';
import { logger } from '#shared/powertools';
import { secretJsonReader } from '#shared/secret-json';
import { sqsEnqueuer } from '#stores/event-queue';
import { EventReservations } from '#stores/event-reservations';

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

/**
 * Builds the production dependencies from the environment, once per cold start, on the first request. The fresh-event
 * path (reservation, SendMessage) and the platforms' secrets go through the hand-signed client
 * (`#shared/aws-json-client`), so the webhook loads no AWS SDK module for them; only WeCom's stream refresh callbacks
 * load the SDK-based snapshot store, on the first one.
 */
export async function createDefaultIngestDeps(env: NodeJS.ProcessEnv = process.env): Promise<IngestDeps> {
  const config = loadWebhookConfig(env);
  const platform = createPlatformResolver(config.enabledPlatforms, env, {
    replyHandleOrigins: config.replyHandleOrigins,
    // WeCom's stream refresh callbacks are answered from the snapshots the worker writes to the events table.
    deps: { streamSnapshots: lazyStreamSnapshots(config.eventsTable, env) },
    // Only deployed stacks read secrets (locally credentials come from env), so the client is made on first use.
    fetchSecret: secretJsonReader(() => awsJsonClientFromEnv(SECRETS_MANAGER, env)),
  });
  const events = new EventReservations(awsJsonClientFromEnv(DYNAMODB, env), {
    tableName: config.eventsTable,
    retentionSeconds: config.eventRetentionSeconds,
  });
  return {
    platform,
    events,
    enqueue: sqsEnqueuer(awsJsonClientFromEnv(SQS, env), config.queueUrl),
    triggers: config.triggers,
    scopes: config.scopes,
    maxBodyBytes: config.maxBodyBytes,
    now: Date.now,
  };
}

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
