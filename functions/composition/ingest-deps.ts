import { lazyStreamSnapshots } from '#composition/lazy-stream-snapshots';
import { loadWebhookConfig } from '#config/runtime-config';
import type { IngestDeps } from '#core/ingest';
import { createPlatformResolver } from '#platforms/registry';
import { awsJsonClientFromEnv, DYNAMODB, SECRETS_MANAGER, SQS } from '#shared/aws-json-client';
import { secretJsonReader } from '#shared/secret-json';
import { sqsEnqueuer } from '#stores/event-queue';
import { EventReservations } from '#stores/event-reservations';

/**
 * Builds the ingest path's production dependencies from the environment: the webhook's, once per cold start on the
 * first request, and the connector's (`functions/connector/connector-process.ts`), once at start. The fresh-event
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
