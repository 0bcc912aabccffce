import { TABLE_SPECS, type TableKey } from '#shared/table-specs';
import { type AwsClients, createAwsClients } from './clients';
import { startDynalite } from './dynalite-server';
import { startFauxqs } from './fauxqs-server';
import { type LocalAwsLogger, silentLogger } from './logger';
import { type CreateQueuesOptions, createQueues, type FifoQueuePair } from './queues';
import { type SqsPoller, type SqsPollerOptions, startSqsPoller } from './sqs-poller';
import { createTables, type TableNames } from './tables';
import { TtlSweeper } from './ttl-sweeper';

export type { AwsClients, AwsClientsOptions } from './clients';
export { createAwsClients, LOCAL_CREDENTIALS } from './clients';
export type { DynaliteOptions } from './dynalite-server';
export { startDynalite } from './dynalite-server';
export type { FauxqsOptions, FauxqsServer } from './fauxqs-server';
export { startFauxqs } from './fauxqs-server';
export type { LocalServer } from './local-server';
export type { LocalAwsLogger } from './logger';
export type { CreateQueuesOptions, FifoQueuePair } from './queues';
export { createQueues } from './queues';
export type { BatchOutcome } from './sqs-event';
export { batchOutcome, toSqsRecord } from './sqs-event';
export type { SqsBatchHandler, SqsPoller, SqsPollerOptions } from './sqs-poller';
export { startSqsPoller } from './sqs-poller';
export type { CreateTablesOptions, TableNames } from './tables';
export { createTables } from './tables';
export type { SweptTable, TtlSweeperOptions } from './ttl-sweeper';
export { TtlSweeper } from './ttl-sweeper';

export interface LocalAwsOptions {
  /** @default 'us-east-1' */
  readonly region?: string;
  /** Keep DynamoDB data in this LevelDB directory across restarts. @default in memory */
  readonly dynamoPath?: string;
  /** @default 0 (any free port) */
  readonly dynamoPort?: number;
  /** @default 0 (any free port) */
  readonly sqsPort?: number;
  /** @default 'groupgate-' */
  readonly tablePrefix?: string;
  /** @default { name: 'groupgate-work', maxReceiveCount: 3, visibilityTimeoutSeconds: 30 } */
  readonly queue?: Partial<CreateQueuesOptions>;
  /** How often expired items are swept (dynalite has no TTL). @default 30000 */
  readonly ttlSweepIntervalMs?: number;
  /** Epoch milliseconds, for the TTL sweeper. @default Date.now */
  readonly now?: () => number;
  /** When given, the work queue is consumed by an event-source-mapping poller calling this handler. */
  readonly worker?: Omit<SqsPollerOptions, 'sqs' | 'queueUrl' | 'logger'>;
  readonly logger?: LocalAwsLogger;
}

export interface LocalAws {
  readonly region: string;
  readonly endpoints: { readonly dynamo: string; readonly sqs: string };
  /** Pid of the fauxqs child process (dynalite runs in this process). */
  readonly fauxqsPid: number;
  readonly tables: TableNames;
  readonly queues: FifoQueuePair;
  readonly clients: AwsClients;
  readonly ttlSweeper: TtlSweeper;
  /** Present when `worker` was given. */
  readonly poller?: SqsPoller;
  /** Stops the poller (finishing its batch), the sweeper, the clients and both servers. */
  stop(): Promise<void>;
}

/**
 * Starts the AWS stand-ins the sandbox and the integration tests share: dynalite with the TABLE_SPECS tables and a
 * TTL sweeper, fauxqs with the FIFO work queue and its DLQ, SDK clients pointed at both, and optionally the poller.
 * If any part fails to start, the parts already started are stopped before the error is rethrown.
 */
export async function startLocalAws(options: LocalAwsOptions = {}): Promise<LocalAws> {
  const region = options.region ?? 'us-east-1';
  const logger = options.logger ?? silentLogger;
  const cleanup: (() => Promise<void> | void)[] = [];
  const stopAll = async (): Promise<void> => {
    for (const step of cleanup.splice(0).reverse()) await step();
  };

  try {
    // allSettled, so a server that started while the other failed is still stopped.
    const [dynamoStart, sqsStart] = await Promise.allSettled([
      startDynalite({ port: options.dynamoPort ?? 0, ...pathOption(options.dynamoPath) }),
      startFauxqs({ port: options.sqsPort ?? 0, region }),
    ]);
    for (const start of [dynamoStart, sqsStart]) {
      if (start.status === 'fulfilled') cleanup.push(() => start.value.stop());
    }
    if (dynamoStart.status === 'rejected') throw dynamoStart.reason;
    if (sqsStart.status === 'rejected') throw sqsStart.reason;
    const [dynamoServer, sqsServer] = [dynamoStart.value, sqsStart.value];
    const clients = createAwsClients({
      dynamoEndpoint: dynamoServer.endpoint,
      sqsEndpoint: sqsServer.endpoint,
      region,
    });
    cleanup.push(() => clients.destroy());

    const [tables, queues] = await Promise.all([
      createTables(clients.dynamo, { prefix: options.tablePrefix ?? 'groupgate-' }),
      createQueues(clients.sqs, {
        name: 'groupgate-work',
        maxReceiveCount: 3,
        visibilityTimeoutSeconds: 30,
        ...options.queue,
      }),
    ]);

    const ttlSweeper = new TtlSweeper({
      client: clients.dynamo,
      tables: (Object.keys(TABLE_SPECS) as TableKey[]).map((key) => ({
        tableName: tables[key],
        spec: TABLE_SPECS[key],
      })),
      logger,
      ...(options.now === undefined ? {} : { now: options.now }),
      ...(options.ttlSweepIntervalMs === undefined ? {} : { intervalMs: options.ttlSweepIntervalMs }),
    });
    ttlSweeper.start();
    cleanup.push(() => ttlSweeper.stop());

    let poller: SqsPoller | undefined;
    if (options.worker) {
      poller = await startSqsPoller({ ...options.worker, sqs: clients.sqs, queueUrl: queues.queueUrl, logger });
      cleanup.push(() => poller?.stop());
    }

    return {
      region,
      endpoints: { dynamo: dynamoServer.endpoint, sqs: sqsServer.endpoint },
      fauxqsPid: sqsServer.pid,
      tables,
      queues,
      clients,
      ttlSweeper,
      ...(poller === undefined ? {} : { poller }),
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

function pathOption(path: string | undefined): { path?: string } {
  return path === undefined ? {} : { path };
}
