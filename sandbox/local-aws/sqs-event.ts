import type { Message, MessageAttributeValue } from '@aws-sdk/client-sqs';
import type { SQSMessageAttributes, SQSRecord, SQSRecordAttributes } from 'aws-lambda';
import { MalformedEventError } from '#core/errors';

export interface EventSource {
  /** The queue's ARN, copied into `eventSourceARN`; its region becomes `awsRegion`. */
  readonly queueArn: string;
}

/**
 * Turns a ReceiveMessage result (requested with AttributeNames/MessageAttributeNames `All`) into the record the
 * Lambda SQS event-source mapping delivers: camel-cased fields, system attributes as strings, message attributes
 * with lower-case value keys, binary values base64-encoded and the reserved list fields as empty arrays.
 */
export function toSqsRecord(message: Message, source: EventSource): SQSRecord {
  const { MessageId, ReceiptHandle, Body, MD5OfBody } = message;
  if (!MessageId || !ReceiptHandle || Body === undefined || !MD5OfBody) {
    throw new MalformedEventError('ReceiveMessage returned a message without MessageId, ReceiptHandle, Body or MD5');
  }
  const record: SQSRecord = {
    messageId: MessageId,
    receiptHandle: ReceiptHandle,
    body: Body,
    attributes: recordAttributes(message),
    messageAttributes: recordMessageAttributes(message.MessageAttributes ?? {}),
    md5OfBody: MD5OfBody,
    eventSource: 'aws:sqs',
    eventSourceARN: source.queueArn,
    awsRegion: regionOf(source.queueArn),
  };
  if (message.MD5OfMessageAttributes) record.md5OfMessageAttributes = message.MD5OfMessageAttributes;
  return record;
}

function recordAttributes(message: Message): SQSRecordAttributes {
  const attributes: Record<string, string | undefined> = message.Attributes ?? {};
  const required = (name: 'ApproximateReceiveCount' | 'SentTimestamp' | 'SenderId'): string => {
    const value = attributes[name];
    if (value === undefined) throw new MalformedEventError(`ReceiveMessage returned no ${name} attribute`);
    return value;
  };
  const result: SQSRecordAttributes = {
    ApproximateReceiveCount: required('ApproximateReceiveCount'),
    SentTimestamp: required('SentTimestamp'),
    SenderId: required('SenderId'),
    ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? required('SentTimestamp'),
  };
  for (const name of ['AWSTraceHeader', 'MessageGroupId', 'MessageDeduplicationId', 'SequenceNumber'] as const) {
    const value = attributes[name];
    if (value !== undefined) result[name] = value;
  }
  return result;
}

function recordMessageAttributes(attributes: Record<string, MessageAttributeValue>): SQSMessageAttributes {
  const result: SQSMessageAttributes = {};
  for (const [name, value] of Object.entries(attributes)) {
    if (!value.DataType) throw new MalformedEventError(`message attribute ${name} has no DataType`);
    result[name] = {
      ...(value.StringValue === undefined ? {} : { stringValue: value.StringValue }),
      ...(value.BinaryValue === undefined ? {} : { binaryValue: Buffer.from(value.BinaryValue).toString('base64') }),
      stringListValues: [],
      binaryListValues: [],
      dataType: value.DataType,
    };
  }
  return result;
}

function regionOf(queueArn: string): string {
  const region = queueArn.split(':')[3];
  if (!region) throw new MalformedEventError(`not an SQS queue ARN: ${queueArn}`);
  return region;
}

/** Which records of a batch count as failed, following the Lambda rules for ReportBatchItemFailures. */
export type BatchOutcome = { readonly kind: 'whole-batch-failed' } | { readonly kind: 'partial'; failed: Set<string> };

/**
 * Lambda treats a void/null response, a null `batchItemFailures` or an empty list as full success; and a response
 * that is not an object with a `batchItemFailures` array, or an `itemIdentifier` that is empty, not a string or not
 * a message id of the batch, as a failure of the whole batch.
 */
export function batchOutcome(response: unknown, records: readonly SQSRecord[]): BatchOutcome {
  const wholeBatch = { kind: 'whole-batch-failed' } as const;
  if (response === undefined || response === null) return { kind: 'partial', failed: new Set() };
  if (typeof response !== 'object') return wholeBatch;
  const failures: unknown = Reflect.get(response, 'batchItemFailures');
  if (failures === undefined || failures === null) return { kind: 'partial', failed: new Set() };
  if (!Array.isArray(failures)) return wholeBatch;
  const ids = new Set(records.map((record) => record.messageId));
  const failed = new Set<string>();
  for (const failure of failures as unknown[]) {
    const id: unknown = typeof failure === 'object' && failure !== null ? Reflect.get(failure, 'itemIdentifier') : null;
    if (typeof id !== 'string' || !ids.has(id)) return wholeBatch;
    failed.add(id);
  }
  return { kind: 'partial', failed };
}
