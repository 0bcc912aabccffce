import type { Message } from '@aws-sdk/client-sqs';
import { MalformedEventError } from '#core/errors';
import { batchOutcome, toSqsRecord } from '../../../sandbox/local-aws/index';
import { queuedEvent, sqsRecordOf } from '../../helpers/factories';

const QUEUE_ARN = 'arn:aws:sqs:eu-central-1:000000000000:work.fifo';
const records = ['m1', 'm2'].map((messageId) => sqsRecordOf(queuedEvent(), { messageId }));

describe('batchOutcome (Lambda ReportBatchItemFailures rules)', () => {
  it.each([
    ['void', undefined],
    ['null', null],
    ['an empty object', {}],
    ['null batchItemFailures', { batchItemFailures: null }],
    ['an empty list', { batchItemFailures: [] }],
  ])('treats %s as full success', (_, response) => {
    expect(batchOutcome(response, records)).toEqual({ kind: 'partial', failed: new Set() });
  });

  it('fails exactly the listed records', () => {
    expect(batchOutcome({ batchItemFailures: [{ itemIdentifier: 'm2' }] }, records)).toEqual({
      kind: 'partial',
      failed: new Set(['m2']),
    });
  });

  it.each([
    ['a string response', 'ok'],
    ['a non-array batchItemFailures', { batchItemFailures: { itemIdentifier: 'm1' } }],
    ['an unknown message id', { batchItemFailures: [{ itemIdentifier: 'm3' }] }],
    ['an empty itemIdentifier', { batchItemFailures: [{ itemIdentifier: '' }] }],
    ['a null itemIdentifier', { batchItemFailures: [{ itemIdentifier: null }] }],
    ['a misspelt key', { batchItemFailures: [{ itemIdentifer: 'm1' }] }],
    ['a numeric itemIdentifier', { batchItemFailures: [{ itemIdentifier: 1 }] }],
  ])('fails the whole batch for %s', (_, response) => {
    expect(batchOutcome(response, records)).toEqual({ kind: 'whole-batch-failed' });
  });
});

describe('toSqsRecord', () => {
  const message = {
    MessageId: 'id-1',
    ReceiptHandle: 'rh-1',
    Body: 'hello',
    MD5OfBody: '5d41402abc4b2a76b9719d911017c592',
    Attributes: { ApproximateReceiveCount: '3', SentTimestamp: '1768478400000', SenderId: '000000000000' },
  };

  it('takes the region from the queue ARN and falls back to SentTimestamp for the first receive', () => {
    const record = toSqsRecord(message, { queueArn: QUEUE_ARN });
    expect(record.awsRegion).toBe('eu-central-1');
    expect(record.attributes).toEqual({
      ApproximateReceiveCount: '3',
      SentTimestamp: '1768478400000',
      SenderId: '000000000000',
      ApproximateFirstReceiveTimestamp: '1768478400000',
    });
    expect(record.messageAttributes).toEqual({});
    expect(record).not.toHaveProperty('md5OfMessageAttributes');
  });

  it.each([
    ['MessageId', { ...message, MessageId: undefined }],
    ['ReceiptHandle', { ...message, ReceiptHandle: undefined }],
    ['Body', { ...message, Body: undefined }],
    ['ApproximateReceiveCount', { ...message, Attributes: { SentTimestamp: '1', SenderId: 'x' } }],
    ['DataType', { ...message, MessageAttributes: { a: { StringValue: 'v' } } }],
  ])('rejects a message without %s', (_, bad) => {
    expect(() => toSqsRecord(bad as Message, { queueArn: QUEUE_ARN })).toThrow(MalformedEventError);
  });

  it('rejects a queue ARN without a region', () => {
    expect(() => toSqsRecord(message, { queueArn: 'not-an-arn' })).toThrow(MalformedEventError);
  });
});
