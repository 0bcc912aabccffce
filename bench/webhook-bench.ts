import { GetQueueAttributesCommand, PurgeQueueCommand } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import type { IngestDeps } from '#core/ingest';
import type { QueuedEvent } from '#core/queue-message';
import { createDefaultIngestDeps, createWebhookHandler } from '#handlers/webhook';
import { PLATFORMS, type PlatformName } from '#platforms/types';
import { logger } from '#shared/powertools';
import type { LocalAws } from '../sandbox/local-aws/index';
import { createDingTalkEmulator } from '../sandbox/platform-emulator/dingtalk';
import { createFeishuEmulator } from '../sandbox/platform-emulator/feishu';
import { createSlackEmulator } from '../sandbox/platform-emulator/slack';
import type { EmulatedRequest, PlatformEmulator } from '../sandbox/platform-emulator/types';
import { createWeComEmulator } from '../sandbox/platform-emulator/wecom';
import { proxyEventOf, testEmulatorContext } from '../test/helpers/emulated';
import { localWebhookEnv } from '../test/helpers/local-aws-json';
import { type LatencySummary, nsToMs, summarise } from './stats';

/**
 * - `fresh`: a new event id every time, so the handler does the real conditional reserve, then SendMessage, against
 *   dynalite and fauxqs, through the production dependencies (`createDefaultIngestDeps`: the hand-signed client).
 * - `duplicate`: a platform retry of an event already enqueued: the reservation's failed condition alongside a send
 *   that SQS FIFO deduplication drops (the queue does not grow).
 * - `no-io`: the same handler with an in-memory store and queue, isolating verify + parse + trigger + logging.
 * - `no-io+info-log`: as `no-io` at log level INFO with stdout discarded, to price the per-request log line.
 * - `io-floor`: the fresh path's two calls alone (reservation ∥ SendMessage, the production clients, no handler):
 *   what the stand-ins themselves cost on this machine, so `fresh` − `io-floor` is GroupGate's own share.
 */
export type WebhookPath = 'fresh' | 'duplicate' | 'no-io' | 'no-io+info-log' | 'io-floor';

export interface WebhookRow extends LatencySummary {
  readonly platform: PlatformName;
  readonly path: WebhookPath;
  /** Response status code → count; anything but 200 means the run did not measure the happy path. */
  readonly statuses: Readonly<Record<string, number>>;
  /** SendMessage calls during the measured series (one per request, duplicates included: FIFO drops those). */
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
  const baseDeps = await createDefaultIngestDeps(localWebhookEnv(aws));
  let sends = 0;
  let lastQueued: QueuedEvent | undefined;
  const ioDeps: IngestDeps = {
    ...baseDeps,
    enqueue: async (event, ids) => {
      sends++;
      lastQueued = event;
      await baseDeps.enqueue(event, ids);
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
      reserve: async () => 'reserved' as const,
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

    // Re-deliveries of the events measured above: sent again with the same deduplication id, dropped by FIFO.
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
  if (budget() > 0 && lastQueued) {
    rows.push({ platform: 'slack', path: 'io-floor', ...(await ioFloor(baseDeps, lastQueued, options, budget())) });
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

/** The reservation and the send of fresh ids side by side, as `ingest` makes them, with nothing around them. */
async function ioFloor(
  deps: IngestDeps,
  event: QueuedEvent,
  options: WebhookBenchOptions,
  budgetMs: number,
): Promise<Omit<WebhookRow, 'platform' | 'path'>> {
  const stamp = Date.now().toString(36);
  const call = (i: number) => {
    const pk = `slack#floor-${stamp}-${i}`;
    return Promise.all([
      deps.events.reserve(pk, Date.now()),
      deps.enqueue(event, { groupId: pk, deduplicationId: pk }),
    ]);
  };
  for (let i = 0; i < options.warmup; i++) await call(-i - 1);
  const samples: number[] = [];
  const stopAt = Date.now() + budgetMs;
  while (samples.length < options.iterations && Date.now() < stopAt) {
    const start = process.hrtime.bigint();
    await call(samples.length);
    samples.push(nsToMs(process.hrtime.bigint() - start));
  }
  return { ...summarise(samples), statuses: {}, truncated: samples.length < options.iterations };
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
