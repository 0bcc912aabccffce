import {
  ConditionalCheckFailedException,
  DynamoDBServiceException,
  ProvisionedThroughputExceededException,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import { TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { type AwsJsonClient, AwsServiceError } from '#shared/aws-json-client';
import { createJsonDocumentClient } from '#shared/json-document-client';
import { isTransactConflict } from '#stores/context-store';

/**
 * Errors DynamoDB returns that dynalite does not (the old item with a failed condition, transaction cancellation
 * reasons): the stores read them through the SDK's exception classes, so the client must build those.
 */
function failingWith(error: unknown): AwsJsonClient {
  return {
    destroy: () => undefined,
    call: async () => {
      throw error;
    },
  };
}

const update = () =>
  new UpdateCommand({
    TableName: 'events',
    Key: { pk: 'e1' },
    UpdateExpression: 'SET #s = :s',
    ConditionExpression: 'attribute_not_exists(pk)',
    ExpressionAttributeNames: { '#s': 'status' },
    ExpressionAttributeValues: { ':s': 'claimed' },
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
  });

it('gives a failed condition its old item as attribute values, as the SDK does', async () => {
  const item = { pk: { S: 'e1' }, status: { S: 'replied' }, attempts: { N: '2' } };
  const doc = createJsonDocumentClient(
    failingWith(
      new AwsServiceError('ConditionalCheckFailedException', 400, 'The conditional request failed', {
        __type: 'com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException',
        message: 'The conditional request failed',
        Item: item,
      }),
    ),
  );
  const err = await doc.send(update()).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ConditionalCheckFailedException);
  expect(err).toMatchObject({
    name: 'ConditionalCheckFailedException',
    message: 'The conditional request failed',
    Item: item,
    $fault: 'client',
    $metadata: { httpStatusCode: 400 },
  });
});

it('gives a cancelled transaction its reasons, which the context store reads as a conflict', async () => {
  const doc = createJsonDocumentClient(
    failingWith(
      new AwsServiceError('TransactionCanceledException', 400, 'Transaction cancelled', {
        Message: 'Transaction cancelled, please refer cancellation reasons for specific reasons',
        CancellationReasons: [
          { Code: 'None' },
          { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed' },
        ],
      }),
    ),
  );
  const err = await doc
    .send(new TransactWriteCommand({ TransactItems: [{ Put: { TableName: 't', Item: { pk: 'a' } } }] }))
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(TransactionCanceledException);
  expect((err as Error).message).toBe('Transaction cancelled, please refer cancellation reasons for specific reasons');
  expect(isTransactConflict(err, 1)).toBe(true);
  expect(isTransactConflict(err, 0)).toBe(false);
});

it('names throttling and unknown errors by their code, server faults as server faults', async () => {
  const throttled = await createJsonDocumentClient(
    failingWith(new AwsServiceError('ProvisionedThroughputExceededException', 400, 'slow down', {})),
  )
    .send(update())
    .catch((e: unknown) => e);
  expect(throttled).toBeInstanceOf(ProvisionedThroughputExceededException);
  const unknown = await createJsonDocumentClient(failingWith(new AwsServiceError('HTTP503', 503, 'HTTP 503', {})))
    .send(update())
    .catch((e: unknown) => e);
  expect(unknown).toBeInstanceOf(DynamoDBServiceException);
  expect(unknown).toMatchObject({ name: 'HTTP503', $fault: 'server', $metadata: { httpStatusCode: 503 } });
});

it('passes network errors through unchanged', async () => {
  const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
  await expect(createJsonDocumentClient(failingWith(reset)).send(update())).rejects.toBe(reset);
});
