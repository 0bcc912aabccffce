import {
  ConditionalCheckFailedException,
  DynamoDBServiceException,
  ProvisionedThroughputExceededException,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, BatchWriteCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
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

/** A client that records the wire documents and answers with `output`. */
function recording(output: Record<string, unknown> = {}) {
  const calls: [string, Record<string, unknown>][] = [];
  const client: AwsJsonClient = {
    destroy: () => undefined,
    call: async (operation, input) => {
      calls.push([operation, input as Record<string, unknown>]);
      return output;
    },
  };
  return { calls, client };
}

it('marshals TransactWriteItems, with one idempotency token per call as the SDK sets it', async () => {
  const { calls, client } = recording();
  const doc = createJsonDocumentClient(client);
  const command = () =>
    new TransactWriteCommand({
      TransactItems: [
        {
          Update: {
            TableName: 'events',
            Key: { pk: 'e1' },
            UpdateExpression: 'SET #s = :s',
            ConditionExpression: '#s = :sending',
            ExpressionAttributeNames: { '#s': 'status' },
            ExpressionAttributeValues: { ':s': 'replied', ':sending': 'sending' },
          },
        },
        { Put: { TableName: 'conversations', Item: { pk: 'c1', turns: [{ role: 'user', text: 'hi' }], v: 2 } } },
        { ConditionCheck: { TableName: 'events', Key: { pk: 'e0' }, ConditionExpression: 'attribute_exists(pk)' } },
      ],
    });
  await doc.send(command());
  await doc.send(command());
  const [first, second] = calls.map(([, input]) => input);
  expect(calls.map(([operation]) => operation)).toEqual(['TransactWriteItems', 'TransactWriteItems']);
  expect(first).toMatchObject({
    TransactItems: [
      {
        Update: {
          Key: { pk: { S: 'e1' } },
          ExpressionAttributeValues: { ':s': { S: 'replied' }, ':sending': { S: 'sending' } },
        },
      },
      {
        Put: {
          Item: {
            pk: { S: 'c1' },
            turns: { L: [{ M: { role: { S: 'user' }, text: { S: 'hi' } } }] },
            v: { N: '2' },
          },
        },
      },
      { ConditionCheck: { Key: { pk: { S: 'e0' } } } },
    ],
  });
  expect(first?.ClientRequestToken).toMatch(/^[0-9a-f-]{36}$/);
  expect(second?.ClientRequestToken).not.toBe(first?.ClientRequestToken);
  const given = recording();
  await createJsonDocumentClient(given.client).send(
    new TransactWriteCommand({ TransactItems: [], ClientRequestToken: 'mine' }),
  );
  expect(given.calls[0]?.[1].ClientRequestToken).toBe('mine');
});

it('hands back unprocessed batch items and keys as native values', async () => {
  const writes = recording({
    UnprocessedItems: { ledger: [{ PutRequest: { Item: { pk: { S: 'l1' }, micros: { N: '12' } } } }] },
  });
  const out = await createJsonDocumentClient(writes.client).send(
    new BatchWriteCommand({ RequestItems: { ledger: [{ PutRequest: { Item: { pk: 'l1', micros: 12 } } }] } }),
  );
  expect(out.UnprocessedItems).toEqual({ ledger: [{ PutRequest: { Item: { pk: 'l1', micros: 12 } } }] });
  const reads = recording({
    Responses: { events: [] },
    UnprocessedKeys: { events: { Keys: [{ pk: { S: 'e1' } }], ProjectionExpression: 'pk' } },
  });
  const got = await createJsonDocumentClient(reads.client).send(
    new BatchGetCommand({ RequestItems: { events: { Keys: [{ pk: 'e1' }] } } }),
  );
  expect(got.UnprocessedKeys).toEqual({ events: { Keys: [{ pk: 'e1' }], ProjectionExpression: 'pk' } });
});

it('names the operation and table to the call wrapper (X-Ray subsegments in the traced functions)', async () => {
  const wrapped: [string, Readonly<Record<string, string>>][] = [];
  const doc = createJsonDocumentClient(recording().client, (name, annotations, call) => {
    wrapped.push([name, annotations]);
    return call();
  });
  await doc.send(update());
  expect(wrapped).toEqual([['DynamoDB UpdateItem', { operation: 'UpdateItem', table: 'events' }]]);
});
