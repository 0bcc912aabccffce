import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { ConfigError } from '#core/errors';
import { type LocalAwsLogger, silentLogger } from './logger';
import { MessageGroupLock } from './message-group-lock';
import { queueArnOf } from './queues';
import { batchOutcome, toSqsRecord } from './sqs-event';

/** The shape of aws-lambda's `SQSHandler` minus context, so the worker handler plugs in unchanged. */
// biome-ignore lint/suspicious/noConfusingVoidType: mirrors SQSHandler, whose handlers may return nothing.
export type SqsBatchHandler = (event: SQSEvent) => Promise<SQSBatchResponse | void>;

export interface SqsPollerOptions {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly handler: SqsBatchHandler;
  /** Messages per ReceiveMessage and per handler invocation (SQS allows 1–10). @default 10 */
  readonly batchSize?: number;
  /**
   * Long-poll wait per ReceiveMessage (1–20 s). `stop()` waits for the receive in progress, so this bounds how
   * long stopping takes; Lambda itself uses 20. @default 1
   */
  readonly waitTimeSeconds?: number;
  /** Overrides the queue's VisibilityTimeout for the messages this poller receives. @default the queue's */
  readonly visibilityTimeoutSeconds?: number;
  /** Batches handled at the same time, like the mapping's concurrent pollers. @default 2 */
  readonly concurrency?: number;
  readonly logger?: LocalAwsLogger;
}

export interface SqsPoller {
  /** Stops receiving; resolves once the receives and batches in progress have finished. */
  stop(): Promise<void>;
  /**
   * Resolves when the queue has no visible, in-flight or delayed messages and no batch is being handled, i.e.
   * every message was deleted or moved to the DLQ. Rejects after `timeoutMs` (default 10000) with the counts.
   */
  idle(options?: { readonly timeoutMs?: number }): Promise<void>;
}

const IDLE_POLL_MS = 25;
const RECEIVE_RETRY_MS = 200;

/**
 * Plays the Lambda SQS event-source mapping with ReportBatchItemFailures: long-polls the queue, hands each batch
 * to the handler as a real `SQSEvent`, deletes the records the handler did not report as failed, and leaves the
 * rest (or the whole batch, if the handler throws or answers invalidly) to reappear after the visibility timeout.
 * Redelivery counting and the move to the DLQ are the queue's job (fauxqs implements the RedrivePolicy).
 * Batches that share a FIFO message group never run at the same time, even if the queue were to hand them out.
 */
export async function startSqsPoller(options: SqsPollerOptions): Promise<SqsPoller> {
  const settings = validate(options);
  const { sqs, queueUrl, handler } = options;
  const logger = options.logger ?? silentLogger;
  const source = { queueArn: await queueArnOf(sqs, queueUrl) };
  const groupLock = new MessageGroupLock();
  let stopping = false;
  let batchesInFlight = 0;

  async function receive(): Promise<Message[]> {
    const { Messages } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: settings.batchSize,
        WaitTimeSeconds: settings.waitTimeSeconds,
        VisibilityTimeout: options.visibilityTimeoutSeconds,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
    );
    return Messages ?? [];
  }

  async function handleBatch(messages: readonly Message[]): Promise<void> {
    const records = messages.map((message) => toSqsRecord(message, source));
    const groups = records.flatMap((record) => record.attributes.MessageGroupId ?? []);
    const release = await groupLock.acquire(groups);
    try {
      const outcome = await invoke(records);
      const succeeded =
        outcome.kind === 'whole-batch-failed' ? [] : records.filter((record) => !outcome.failed.has(record.messageId));
      await deleteRecords(succeeded);
      if (succeeded.length < records.length) {
        logger.info('records left on the queue for redelivery after the visibility timeout', {
          failed: records.length - succeeded.length,
          batch: records.length,
        });
      }
    } finally {
      release();
    }
  }

  async function invoke(records: SQSRecord[]) {
    try {
      return batchOutcome(await handler({ Records: records }), records);
    } catch (error) {
      logger.error('SQS batch handler threw; the whole batch will be redelivered', { error: String(error) });
      return { kind: 'whole-batch-failed' } as const;
    }
  }

  async function deleteRecords(records: readonly SQSRecord[]): Promise<void> {
    if (records.length === 0) return;
    const { Failed } = await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: records.map((record, index) => ({ Id: String(index), ReceiptHandle: record.receiptHandle })),
      }),
    );
    if (Failed && Failed.length > 0) logger.warn('some handled records could not be deleted', { failed: Failed });
  }

  async function pollLoop(): Promise<void> {
    while (!stopping) {
      let messages: Message[];
      try {
        messages = await receive();
      } catch (error) {
        if (stopping) return;
        logger.error('ReceiveMessage failed; retrying', { error: String(error) });
        await sleep(RECEIVE_RETRY_MS);
        continue;
      }
      if (messages.length === 0) continue;
      batchesInFlight += 1;
      try {
        await handleBatch(messages);
      } catch (error) {
        logger.error('SQS batch could not be handled; it will be redelivered', { error: String(error) });
      } finally {
        batchesInFlight -= 1;
      }
    }
  }

  async function pendingMessages(): Promise<Record<string, string>> {
    const { Attributes = {} } = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: queueUrl,
        AttributeNames: [
          'ApproximateNumberOfMessages',
          'ApproximateNumberOfMessagesNotVisible',
          'ApproximateNumberOfMessagesDelayed',
        ],
      }),
    );
    return Attributes;
  }

  const loops = Array.from({ length: settings.concurrency }, () => pollLoop());
  let stopped: Promise<void> | undefined;

  return {
    stop() {
      stopping = true;
      stopped ??= Promise.all(loops).then(() => undefined);
      return stopped;
    },
    async idle({ timeoutMs = 10_000 } = {}) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const counts = await pendingMessages();
        const empty = Object.values(counts).every((count) => count === '0');
        if (empty && batchesInFlight === 0) return;
        if (Date.now() > deadline) {
          throw new Error(`queue not idle after ${timeoutMs} ms: ${JSON.stringify({ ...counts, batchesInFlight })}`);
        }
        await sleep(IDLE_POLL_MS);
      }
    },
  };
}

function validate(options: SqsPollerOptions) {
  const settings = {
    batchSize: options.batchSize ?? 10,
    waitTimeSeconds: options.waitTimeSeconds ?? 1,
    concurrency: options.concurrency ?? 2,
  };
  const problems: string[] = [];
  const inRange = (name: string, value: number | undefined, min: number, max: number): void => {
    if (value !== undefined && !(Number.isInteger(value) && value >= min && value <= max)) {
      problems.push(`${name} must be an integer in ${min}–${max}, got ${value}`);
    }
  };
  inRange('batchSize', settings.batchSize, 1, 10);
  inRange('waitTimeSeconds', settings.waitTimeSeconds, 1, 20);
  inRange('concurrency', settings.concurrency, 1, 1000);
  inRange('visibilityTimeoutSeconds', options.visibilityTimeoutSeconds, 0, 43_200);
  if (problems.length > 0) throw new ConfigError(problems);
  return settings;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
