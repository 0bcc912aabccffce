import '#shared/install-stack-source-map';
import {
  FullBatchFailureError,
  processPartialResponse,
  SqsFifoPartialProcessorAsync,
} from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { createModelClient } from '#composition/model-composition';
import { createVoiceEngines } from '#composition/voice-engines';
import { createWorkerRuntime, type WorkerRuntimeDeps } from '#composition/worker-runtime';
import { loadWorkerConfig } from '#config/worker-config';
import { EventInProgressError } from '#core/process-event';
import { createEnabledPlatforms } from '#platforms/registry';
import { createAwsClients } from '#shared/aws-clients';
import { METRIC, metrics, recordMetric } from '#shared/metrics';
import { withMiddlewares } from '#shared/middy';
import { logger } from '#shared/powertools';
import { handlerTracing, traced } from '#shared/tracer';
import { DynamoStreamSnapshots } from '#stores/stream-snapshots';

/**
 * The worker Lambda: an SQS FIFO batch handler. A batch holds up to 10 records from several message groups (one
 * group per conversation). Groups are processed side by side, each record of a group after the one before it, so one
 * member's slow answer never starves the other members of the batch, and one member's turns never overtake each
 * other. Within a group Powertools' FIFO processor reports the first failed record and every later record of that
 * group as failed; other groups go on. Failed records are redelivered and dead-lettered after N receives.
 */
export type RecordProcessor = (record: SQSRecord) => Promise<unknown>;

/** The batch's records split by `MessageGroupId`, each group in batch (= FIFO) order. */
function groupsOf(records: readonly SQSRecord[]): SQSRecord[][] {
  const groups = new Map<string, SQSRecord[]>();
  for (const record of records) {
    // A record without a group id (never from a FIFO queue) is its own group.
    const id = record.attributes.MessageGroupId ?? `record:${record.messageId}`;
    const group = groups.get(id);
    if (group) group.push(record);
    else groups.set(id, [record]);
  }
  return [...groups.values()];
}

export function createWorkerHandler(resolve: (context: Context) => Promise<RecordProcessor>) {
  return async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    const processRecord = await resolve(context);
    const handleRecord = async (record: SQSRecord) => {
      try {
        return await processRecord(record);
      } catch (err) {
        // Another worker holding the lease is ordinary concurrency, not a failure to answer.
        if (!(err instanceof EventInProgressError)) recordMetric(METRIC.errors);
        logger.warn('record failed; SQS will redeliver it', {
          messageId: record.messageId,
          receiveCount: record.attributes.ApproximateReceiveCount,
          error: err as Error,
        });
        throw err;
      }
    };
    // One FIFO processor per group: each keeps its own short-circuit state, so a failure skips only its group.
    const responses = await Promise.all(
      groupsOf(event.Records).map((records) =>
        processPartialResponse({ Records: records }, handleRecord, new SqsFifoPartialProcessorAsync(), {
          context,
          skipGroupOnError: true,
          throwOnFullBatchFailure: false,
        }),
      ),
    );
    const failed = new Set(responses.flatMap((r) => r.batchItemFailures.map((f) => f.itemIdentifier)));
    if (failed.size > 0 && failed.size === event.Records.length) {
      // As Powertools does for a batch that failed whole: the invocation fails and SQS redelivers everything.
      throw new FullBatchFailureError([new Error(`all ${failed.size} records of the batch failed`)]);
    }
    // Reported in batch order, as the event-source mapping expects for FIFO queues.
    return {
      batchItemFailures: event.Records.filter((r) => failed.has(r.messageId)).map((r) => ({
        itemIdentifier: r.messageId,
      })),
    };
  };
}

let runtime: Promise<(context: Context) => RecordProcessor> | undefined;

export interface DefaultRuntimeOptions {
  /** Crash injection for the sandbox's reliability suite; never set in AWS. */
  readonly checkpoint?: WorkerRuntimeDeps['checkpoint'];
}

async function buildDefaultRuntime(
  env: NodeJS.ProcessEnv = process.env,
  options: DefaultRuntimeOptions = {},
): Promise<(context: Context) => RecordProcessor> {
  const config = loadWorkerConfig(env);
  const clients = createAwsClients({ region: config.region, wrapCalls: traced });
  const platforms = await createEnabledPlatforms(config.enabledPlatforms, env, {
    replyHandleOrigins: config.replyHandleOrigins,
    replyLimits: config.replyLimits,
    // WeCom streams by writing snapshots its webhook answers refresh callbacks from (same events table).
    deps: { streamSnapshots: new DynamoStreamSnapshots(clients.doc, { tableName: config.tables.events }) },
  });
  const model = createModelClient(config);
  // One runtime per cold start; the Lambda context only supplies the remaining time of each invocation.
  let current: Context | undefined;
  const processRecord = createWorkerRuntime({
    config,
    clients,
    platforms,
    model,
    voice: createVoiceEngines(config.voice, env),
    remainingMs: () => current?.getRemainingTimeInMillis() ?? 60_000,
    ...(options.checkpoint ? { checkpoint: options.checkpoint } : {}),
  });
  return (context) => {
    current = context;
    return processRecord;
  };
}

const defaultResolve = async (context: Context): Promise<RecordProcessor> => {
  runtime ??= buildDefaultRuntime().catch((err: unknown) => {
    runtime = undefined;
    throw err;
  });
  return (await runtime)(context);
};

/**
 * The worker's middleware: the handler's trace segment (replies are members' answers, so the response stays out
 * of it), the Lambda context in every log line, and one EMF flush of the batch's metrics when it ends.
 */
export function withObservability(fn: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>) {
  return withMiddlewares(fn, [
    ...handlerTracing<SQSEvent, SQSBatchResponse>(),
    injectLambdaContext(logger, { resetKeys: true }),
    logMetrics(metrics),
  ]);
}

export const handler = withObservability(createWorkerHandler(defaultResolve));

/** A worker handler with its own runtime, built from `env` on first use (the sandbox's crash-injection build). */
export function createDefaultWorkerHandler(env: NodeJS.ProcessEnv, options: DefaultRuntimeOptions) {
  let own: Promise<(context: Context) => RecordProcessor> | undefined;
  return withObservability(
    createWorkerHandler(async (context) => {
      own ??= buildDefaultRuntime(env, options);
      return (await own)(context);
    }),
  );
}
