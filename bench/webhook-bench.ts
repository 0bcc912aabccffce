import { GetQueueAttributesCommand, PurgeQueueCommand } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import type { IngestDeps } from '#core/ingest';
import { createDefaultIngestDeps, createWebhookHandler } from '#handlers/webhook';
import { PLATFORMS, type PlatformName } from '#platforms/types';
import { logger } from '#shared/powertools';
import { sqsEnqueuer } from '#stores/event-queue';
import { EventStore } from '#stores/event-store';
import { credentialEnv, SANDBOX_CREDENTIALS } from '../sandbox/defaults';
import type { LocalAws } from '../sandbox/local-aws/index';
import { createDingTalkEmulator } from '../sandbox/platform-emulator/dingtalk';
import { createFeishuEmulator } from '../sandbox/platform-emulator/feishu';
import { createSlackEmulator } from '../sandbox/platform-emulator/slack';
import type { EmulatedRequest, PlatformEmulator } from '../sandbox/platform-emulator/types';
import { createWeComEmulator } from '../sandbox/platform-emulator/wecom';
import { proxyEventOf, testEmulatorContext } from '../test/helpers/emulated';
import { type LatencySummary, nsToMs, summarise } from './stats';

/**
 * - `fresh`: a new event id every time, so the handler does the real conditional reserve, SendMessage and
 *   markEnqueued against dynalite and fauxqs.
 * - `duplicate`: a re-delivery of an event already enqueued (one failed conditional write, no send).
 * - `no-io`: the same handler with an in-memory store and queue, isolating verify + parse + trigger + logging.
 * - `no-io+info-log`: as `no-io` at log level INFO with stdout discarded, to price the per-request log line.
 */
export type WebhookPath = 'fresh' | 'duplicate' | 'no-io' | 'no-io+info-log';

export interface WebhookRow extends LatencySummary {
  readonly platform: PlatformName;
  readonly path: WebhookPath;
  /** Response status code → count; anything but 200 means the run did not measure the happy path. */
  readonly statuses: Readonly<Record<string, number>>;
  /** SendMessage calls during the measured series (fresh: one each; a duplicate of an enqueued event: none). */
  readonly sends?: number;
  /** For `fresh`: messages found on the queue afterwards (should equal warm-up + measured). */
  readonly queued?: number;
  readonly expectedQueued?: number;
  /** True when the time budget stopped the series before `iterations`. */
  readonly truncated: boolean;
}

export interface WebhookBenchOptions {
  readonly warmup: number;
  readonly iterations: number;
  readonly duplicates: number;
  /** Wall-clock cap of one measured series. */
  readonly seriesBudgetMs: number;
  /** Epoch ms after which no new series starts and running ones stop. */
  readonly deadline: number;
  readonly progress: (line: string) => void;
}

const EMULATORS: Record<PlatformName, PlatformEmulator> = {
  feishu: createFeishuEmulator(),
  slack: createSlackEmulator(),
  dingtalk: createDingTalkEmulator(),
  wecom: createWeComEmulator(),
};

type Handle = (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;

interface Series {
  readonly samples: number[];
  readonly statuses: Record<string, number>;
  readonly eventIds: string[];
  readonly truncated: boolean;
}

/** Runs every platform's series against the given stand-ins; the caller owns their lifecycle. */
export async function runWebhookBench(aws: LocalAws, options: WebhookBenchOptions): Promise<WebhookRow[]> {
  const baseDeps = await createDefaultIngestDeps({
    ...credentialEnv(SANDBOX_CREDENTIALS),
    ENABLED_PLATFORMS: PLATFORMS.join(','),
    QUEUE_URL: aws.queues.queueUrl,
    EVENTS_TABLE: aws.tables.events,
    REPLY_HANDLE_ORIGINS: 'http://127.0.0.1:9',
  });
  const send = sqsEnqueuer(aws.clients.sqs, aws.queues.queueUrl);
  let sends = 0;
  const ioDeps: IngestDeps = {
    ...baseDeps,
    events: new EventStore(aws.clients.doc, { tableName: aws.tables.events }),
    enqueue: async (event, ids) => {
      sends++;
      await send(event, ids);
    },
  };
  const counted = async (run: () => Promise<Series>): Promise<Series & { sends: number }> => {
    const before = sends;
    const result = await run();
    return { ...result, sends: sends - before };
  };
  const noIoDeps: IngestDeps = {
    ...baseDeps,
    events: {
      reserve: async () => ({ outcome: 'reserved' }),
      markEnqueued: async () => undefined,
      release: async () => undefined,
    },
    enqueue: async () => undefined,
  };
  const withIo = createWebhookHandler(async () => ioDeps);
  const withoutIo = createWebhookHandler(async () => noIoDeps);
  const { ctx } = testEmulatorContext();
  const build = (platform: PlatformName, eventId?: string): EmulatedRequest =>
    EMULATORS[platform].buildMessageEvent(
      {
        chatId: `bench-${platform}`,
        userId: 'alice',
        text: '你好，今天的值班是谁？🙂',
        ...(eventId ? { eventId } : {}),
      },
      ctx,
    );

  const rows: WebhookRow[] = [];
  const budget = (): number => Math.min(options.seriesBudgetMs, options.deadline - Date.now());
  for (const platform of PLATFORMS) {
    if (budget() <= 0) break;
    await purge(aws);
    const fresh = (): EmulatedRequest => build(platform);
    const warm = await series(withIo, fresh, options.warmup, budget());
    const measured = await counted(() => series(withIo, fresh, options.iterations, budget()));
    const queued = await queueDepth(aws);
    const expectedQueued = warm.eventIds.length + measured.eventIds.length;
    rows.push({ platform, path: 'fresh', ...row(measured), sends: measured.sends, queued, expectedQueued });
    options.progress(`${platform} fresh: n=${measured.samples.length}, queued ${queued}/${expectedQueued}`);

    // Re-deliveries of events measured above (status `enqueued`): the reserve's condition fails, nothing is sent.
    const ids = measured.eventIds;
    let next = 0;
    const again = (): EmulatedRequest => build(platform, ids[next++ % ids.length]);
    const dup = await counted(() => series(withIo, again, Math.min(options.duplicates, ids.length), budget()));
    rows.push({ platform, path: 'duplicate', ...row(dup), sends: dup.sends });
    const depthAfterDuplicates = await queueDepth(aws);
    if (depthAfterDuplicates !== queued) {
      options.progress(`${platform} duplicate: queue grew from ${queued} to ${depthAfterDuplicates} (should not)`);
    }

    await series(withoutIo, fresh, options.warmup, budget());
    rows.push({ platform, path: 'no-io', ...row(await series(withoutIo, fresh, options.iterations, budget())) });
  }
  if (budget() > 0) {
    const infoLog = await withLogLevel('INFO', () =>
      series(withoutIo, () => build('slack'), options.iterations, budget()),
    );
    rows.push({ platform: 'slack', path: 'no-io+info-log', ...row(infoLog) });
  }
  await purge(aws);
  return rows;
}

function row(s: Series): Omit<WebhookRow, 'platform' | 'path'> {
  return { ...summarise(s.samples), statuses: s.statuses, truncated: s.truncated };
}

/** Sequential requests, as one Lambda instance serves them; only the handler call is timed, not request building. */
async function series(handle: Handle, next: () => EmulatedRequest, count: number, budgetMs: number): Promise<Series> {
  const samples: number[] = [];
  const statuses: Record<string, number> = {};
  const eventIds: string[] = [];
  const stopAt = Date.now() + budgetMs;
  while (samples.length < count && Date.now() < stopAt) {
    const request = next();
    const event = proxyEventOf(request);
    const start = process.hrtime.bigint();
    const res = await handle(event);
    samples.push(nsToMs(process.hrtime.bigint() - start));
    statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
    if (res.statusCode === 200) eventIds.push(request.eventId);
  }
  return { samples, statuses, eventIds, truncated: samples.length < count };
}

/** Runs `fn` at another log level with stdout discarded, so the log line is formatted and written but not shown. */
async function withLogLevel<T>(level: 'INFO', fn: () => Promise<T>): Promise<T> {
  const previousLevel = logger.getLevelName();
  const write = process.stdout.write;
  logger.setLogLevel(level);
  process.stdout.write = (() => true) as typeof process.stdout.write;
  try {
    return await fn();
  } finally {
    process.stdout.write = write;
    logger.setLogLevel(previousLevel);
  }
}

async function purge(aws: LocalAws): Promise<void> {
  await aws.clients.sqs.send(new PurgeQueueCommand({ QueueUrl: aws.queues.queueUrl }));
}

async function queueDepth(aws: LocalAws): Promise<number> {
  const res = await aws.clients.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: aws.queues.queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return (
    Number(res.Attributes?.ApproximateNumberOfMessages ?? 0) +
    Number(res.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0)
  );
}
