import type { APIGatewayProxyEvent } from 'aws-lambda';
import type { IngestDeps } from '#core/ingest';
import { createDefaultIngestDeps, createWebhookHandler } from '#handlers/webhook';
import { PLATFORMS } from '#platforms/types';
import { credentialEnv, SANDBOX_CREDENTIALS } from '../../sandbox/defaults';
import { localAwsEnv } from '../../test/helpers/local-aws-json';

/**
 * GroupGate's real webhook handler (verify, parse, trigger rules, dedup, enqueue, log) with the events table and the
 * queue replaced by in-memory no-ops: the whole Lambda entry point without network I/O, comparable to a peer's
 * handler that does no I/O either. The request counts as accepted only when the handler enqueued it.
 */
export interface NoIoWebhook {
  /** Resolves true when the handler answered 200 and enqueued exactly this one event. */
  readonly accepts: (event: APIGatewayProxyEvent) => Promise<boolean>;
}

export async function createNoIoWebhook(): Promise<NoIoWebhook> {
  const base = await createDefaultIngestDeps({
    ...credentialEnv(SANDBOX_CREDENTIALS),
    // Never called: the events table and the queue are replaced below.
    ...localAwsEnv({ region: 'us-east-1', endpoints: { dynamo: 'http://127.0.0.1:9', sqs: 'http://127.0.0.1:9' } }),
    ENABLED_PLATFORMS: PLATFORMS.join(','),
    QUEUE_URL: 'http://127.0.0.1:9/000000000000/bench.fifo',
    EVENTS_TABLE: 'bench-events',
    REPLY_HANDLE_ORIGINS: 'http://127.0.0.1:9',
  });
  let enqueued = 0;
  const deps: IngestDeps = {
    ...base,
    events: {
      reserve: async () => 'reserved' as const,
      release: async () => undefined,
    },
    enqueue: async () => {
      enqueued++;
    },
  };
  const handle = createWebhookHandler(async () => deps);
  return {
    accepts: async (event) => {
      const before = enqueued;
      const res = await handle(event);
      return res.statusCode === 200 && enqueued === before + 1;
    },
  };
}
