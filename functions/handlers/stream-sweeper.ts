import '#shared/install-stack-source-map';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { Context, ScheduledEvent } from 'aws-lambda';
import { createSweeperRuntime, type SweepReport } from '#composition/sweeper-runtime';
import { loadSweeperConfig } from '#config/sweeper-config';
import { DEFAULT_MESSAGES } from '#core/pipeline-messages';
import { createPlatformResolver } from '#platforms/registry';
import { createAwsClients } from '#shared/aws-clients';
import { METRIC, metrics, recordMetric } from '#shared/metrics';
import { withMiddlewares } from '#shared/middy';
import { logger } from '#shared/powertools';
import { handlerTracing, traced } from '#shared/tracer';
import { EventStore } from '#stores/event-store';
import { DynamoStreamSnapshots } from '#stores/stream-snapshots';

/**
 * The stream sweeper Lambda, run by an EventBridge schedule every minute: finishes the streamed replies no delivery
 * finished (`composition/sweeper-runtime.ts`). Failures of single surfaces are logged and retried by a later run;
 * only a failure to read the index fails the invocation (and EventBridge's next run tries again anyway).
 */
export type Sweep = (context: Pick<Context, 'getRemainingTimeInMillis'>) => Promise<SweepReport>;

function buildDefaultSweep(env: NodeJS.ProcessEnv = process.env): Sweep {
  const config = loadSweeperConfig(env);
  const clients = createAwsClients({ region: config.region, wrapCalls: traced });
  // Adapters are built on first use, per platform: one platform's unreadable secret fails only its surfaces.
  const platformFor = createPlatformResolver(config.enabledPlatforms, env, {
    replyHandleOrigins: config.replyHandleOrigins,
    replyLimits: config.replyLimits,
    // As in the worker: WeCom streams through snapshots in the events table, and only streams with a store.
    deps: { streamSnapshots: new DynamoStreamSnapshots(clients.doc, { tableName: config.eventsTable }) },
  });
  const sweep = createSweeperRuntime({
    store: new EventStore(clients.doc, { tableName: config.eventsTable }),
    platformFor,
    note: DEFAULT_MESSAGES.replyAbandoned,
    leaseMs: config.leaseMs,
    log: logger,
    onSwept: () => recordMetric(METRIC.sweptReplies),
  });
  return (context) => sweep({ remainingMs: () => context.getRemainingTimeInMillis() });
}

export function createStreamSweeperHandler(resolve: () => Sweep) {
  return async (_event: ScheduledEvent, context: Context): Promise<SweepReport> => {
    const report = await resolve()(context);
    if (report.due > 0) logger.info('stream sweep', { ...report });
    return report;
  };
}

let sweep: Sweep | undefined;

export const handler = withMiddlewares(
  createStreamSweeperHandler(() => {
    sweep ??= buildDefaultSweep();
    return sweep;
  }),
  [...handlerTracing(), injectLambdaContext(logger, { resetKeys: true }), logMetrics(metrics)],
);
