import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { eventKey, fifoId } from '#core/key-part';
import { encodeQueuedEvent, type QueuedEvent } from '#core/queue-message';

export interface SqsRecordOptions {
  /** @default `sqs-<platform>-<eventId>`, unique per event */
  readonly messageId?: string;
  /** `ApproximateReceiveCount`: 1 on the first delivery, more on redeliveries. @default 1 */
  readonly receiveCount?: number;
  /** Epoch ms SQS accepted the message (`SentTimestamp`; the worker's queue-wait metric starts here). @default now */
  readonly sentAt?: number;
  /** Epoch ms of the first receive. @default now */
  readonly firstReceivedAt?: number;
  /** @default a FIFO queue ARN in us-east-1 */
  readonly queueArn?: string;
}

/**
 * An SQS record as Lambda's event-source mapping delivers a queued event from the FIFO queue: the encoded body, and
 * the group and deduplication ids the webhook's enqueue sets (conversation key, event store key).
 */
export function sqsRecordOf(event: QueuedEvent, options: SqsRecordOptions = {}): SQSRecord {
  const messageId = options.messageId ?? `sqs-${event.message.platform}-${event.message.eventId}`;
  const now = Date.now();
  return {
    messageId,
    receiptHandle: `rh-${messageId}`,
    body: encodeQueuedEvent(event),
    attributes: {
      ApproximateReceiveCount: String(options.receiveCount ?? 1),
      SentTimestamp: String(options.sentAt ?? now),
      SenderId: 'test',
      ApproximateFirstReceiveTimestamp: String(options.firstReceivedAt ?? now),
      MessageGroupId: fifoId(event.conversationKey),
      MessageDeduplicationId: fifoId(eventKey(event.message.platform, event.message.eventId)),
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: options.queueArn ?? 'arn:aws:sqs:us-east-1:000000000000:groupgate-test.fifo',
    awsRegion: 'us-east-1',
  };
}

/** A worker invocation's batch. */
export function sqsEventOf(records: readonly SQSRecord[]): SQSEvent {
  return { Records: [...records] };
}
