import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { IngestDeps } from '#core/ingest';
import { encodeQueuedEvent, MESSAGE_ATTRIBUTES, type QueuedEvent } from '#core/queue-message';

/** SendMessage to the FIFO queue: group = conversation key (one member's turns in order), dedup id = event. */
export function sqsEnqueuer(sqs: SQSClient, queueUrl: string): IngestDeps['enqueue'] {
  return async (event: QueuedEvent, ids) => {
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: encodeQueuedEvent(event),
        MessageGroupId: ids.groupId,
        MessageDeduplicationId: ids.deduplicationId,
        MessageAttributes: {
          [MESSAGE_ATTRIBUTES.platform]: { DataType: 'String', StringValue: event.message.platform },
          [MESSAGE_ATTRIBUTES.eventId]: { DataType: 'String', StringValue: event.message.eventId },
          ...(process.env._X_AMZN_TRACE_ID
            ? { [MESSAGE_ATTRIBUTES.traceId]: { DataType: 'String', StringValue: process.env._X_AMZN_TRACE_ID } }
            : {}),
        },
      }),
    );
  };
}
