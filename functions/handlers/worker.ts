import { processPartialResponse, SqsFifoPartialProcessorAsync } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { loadWorkerConfig } from '../config/worker-config';
import { EventInProgressError } from '../core/process-event';
import { createModelClient } from '../model/model-client';
import { createEnabledPlatforms } from '../platforms/registry';
import { createAwsClients } from '../shared/aws-clients';
import { METRIC, metrics, recordMetric } from '../shared/metrics';
import { logger } from '../shared/powertools';
import { tracer } from '../shared/tracer';
import { createWorkerRuntime, type WorkerRuntimeDeps } from './worker-runtime';

/**
 * The worker Lambda: an SQS FIFO batch handler. Powertools' FIFO processor reports the first failed record of a
 * message group and every later record of that group as failed (so one member's turns never overtake each other),
 * while other groups in the batch go on. Failed records are redelivered and dead-lettered after N receives.
 */
export type RecordProcessor = (record: SQSRecord) => Promise<unknown>;

export function createWorkerHandler(resolve: (context: Context) => Promise<RecordProcessor>) {
  return async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    const processRecord = await resolve(context);
    const processor = new SqsFifoPartialProcessorAsync();
    return processPartialResponse(
      event,
      async (record: SQSRecord) => {
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
      },
      processor,
      { context, skipGroupOnError: true },
    );
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
  const clients = createAwsClients({ region: config.region });
  tracer.captureAWSv3Client(clients.dynamo); // the document client shares this middleware stack
  const platforms = await createEnabledPlatforms(config.enabledPlatforms, env, {
    replyHandleOrigins: config.replyHandleOrigins,
  });
  const model = createModelClient({
    endpointName: config.model.endpointName,
    endpointUrl: config.model.endpointUrl,
    region: config.region,
    modelId: config.model.modelId,
  });
  // One runtime per cold start; the Lambda context only supplies the remaining time of each invocation.
  let current: Context | undefined;
  const processRecord = createWorkerRuntime({
    config,
    clients,
    platforms,
    model,
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
  return middy(fn)
    .use(captureLambdaHandler(tracer, { captureResponse: false }))
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics));
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
