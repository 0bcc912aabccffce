import type { IngestDeps } from '#core/ingest';
import { encodeQueuedEvent, MESSAGE_ATTRIBUTES, type QueuedEvent } from '#core/queue-message';
import type { AwsJsonClient } from '#shared/aws-json-client';

/**
 * SendMessage to the FIFO queue: group = conversation key (one member's turns in order), dedup id = event. Over the
 * hand-signed client, like the webhook's other calls; the input is the document the SDK's `SendMessageCommand` takes.
 */
export function sqsEnqueuer(sqs: AwsJsonClient, queueUrl: string): IngestDeps['enqueue'] {
  return async (event: QueuedEvent, ids) => {
    const traceId = process.env._X_AMZN_TRACE_ID;
    await sqs.call('SendMessage', {
      QueueUrl: queueUrl,
      MessageBody: encodeQueuedEvent(event),
      MessageGroupId: ids.groupId,
      MessageDeduplicationId: ids.deduplicationId,
      MessageAttributes: {
        [MESSAGE_ATTRIBUTES.platform]: { DataType: 'String', StringValue: event.message.platform },
        [MESSAGE_ATTRIBUTES.eventId]: { DataType: 'String', StringValue: event.message.eventId },
        ...(traceId ? { [MESSAGE_ATTRIBUTES.traceId]: { DataType: 'String', StringValue: traceId } } : {}),
      },
    });
  };
}
