import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  TransactGetCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { createAwsJsonClient, DYNAMODB } from '#shared/aws-json-client';
import { createJsonDocumentClient, type DocumentClient } from '#shared/json-document-client';
import { LOCAL_CREDENTIALS } from '../../../sandbox/local-aws/index';
import { type EventsTable, startEventsTable } from '../../helpers/events-table';

/**
 * The hand-signed document client must answer every command the stores send exactly as lib-dynamodb's client
 * does, errors included: the same commands go through both against one dynalite, and the outputs must be equal.
 */
let table: EventsTable;
let sdk: DynamoDBDocumentClient;
let sdkBase: DynamoDBClient;
let json: DocumentClient;
let destroyJson: () => void;
/** A second table, for the batch calls. */
let conversations: string;

beforeAll(async () => {
  table = await startEventsTable('jdc');
  sdkBase = new DynamoDBClient({
    endpoint: table.server.endpoint,
    region: 'us-east-1',
    credentials: LOCAL_CREDENTIALS,
  });
  sdk = DynamoDBDocumentClient.from(sdkBase, { marshallOptions: { removeUndefinedValues: true } });
  const client = createAwsJsonClient({
    service: DYNAMODB,
    region: 'us-east-1',
    endpoint: new URL(table.server.endpoint),
    credentials: LOCAL_CREDENTIALS,
  });
  json = createJsonDocumentClient(client);
  destroyJson = () => client.destroy();
  conversations = table.tableName.replace(/Events$/, 'Conversations');
  expect(conversations).not.toBe(table.tableName);
});

afterAll(async () => {
  destroyJson();
  sdkBase.destroy();
  await table.stop();
});

/** Outputs without the transport's metadata, which differs by design. */
function body(output: unknown): unknown {
  const { $metadata: _metadata, ...rest } = output as Record<string, unknown>;
  return rest;
}

async function both(make: (client: 'sdk' | 'json') => object) {
  const fromSdk = body(await sdk.send(make('sdk') as never));
  const fromJson = body(await json.send(make('json') as never));
  return { fromSdk, fromJson };
}

const item = (pk: string) => ({
  pk,
  text: '你好 👋 "quoted"',
  count: 42,
  ratio: 0.125,
  flag: true,
  nothing: null,
  tags: new Set(['a', 'b']),
  nested: { list: [1, 'two', { three: 3 }], empty: {} },
  dropped: undefined,
});

describe('json document client against lib-dynamodb', () => {
  it('puts and gets native values, sets and nesting included, dropping undefined members', async () => {
    const puts = await both((c) => new PutCommand({ TableName: table.tableName, Item: item(`put-${c}`) }));
    expect(puts.fromJson).toEqual(puts.fromSdk);
    const gets = await both((c) => new GetCommand({ TableName: table.tableName, Key: { pk: `put-${c}` } }));
    const { pk: _sdkPk, ...sdkItem } = (gets.fromSdk as { Item: Record<string, unknown> }).Item;
    const { pk: _jsonPk, ...jsonItem } = (gets.fromJson as { Item: Record<string, unknown> }).Item;
    expect(jsonItem).toEqual(sdkItem);
    expect(jsonItem).toEqual({ ...item('x'), pk: undefined, dropped: undefined });
    expect('dropped' in jsonItem).toBe(false);
    const missing = await both(() => new GetCommand({ TableName: table.tableName, Key: { pk: 'absent' } }));
    expect(missing.fromJson).toEqual(missing.fromSdk);
  });

  it('updates with expression values and returns the new attributes', async () => {
    const updates = await both(
      (c) =>
        new UpdateCommand({
          TableName: table.tableName,
          Key: { pk: `upd-${c}` },
          UpdateExpression: 'SET #s = :s, attempts = if_not_exists(attempts, :zero) + :one',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':s': 'claimed', ':zero': 0, ':one': 1 },
          ReturnValues: 'ALL_NEW',
          ReturnConsumedCapacity: 'TOTAL',
        }),
    );
    expect((updates.fromJson as { Attributes: unknown }).Attributes).toEqual({
      pk: 'upd-json',
      status: 'claimed',
      attempts: 1,
    });
    expect((updates.fromSdk as { Attributes: { pk: string } }).Attributes.pk).toBe('upd-sdk');
    expect(Object.keys(updates.fromJson as object).sort()).toEqual(Object.keys(updates.fromSdk as object).sort());
  });

  it('fails a condition as ConditionalCheckFailedException, as the SDK does', async () => {
    const failures: unknown[] = [];
    for (const client of [sdk, json] as const) {
      await client.send(new PutCommand({ TableName: table.tableName, Item: { pk: 'cond', status: 'replied' } }));
      failures.push(
        await client
          .send(
            new UpdateCommand({
              TableName: table.tableName,
              Key: { pk: 'cond' },
              UpdateExpression: 'SET #s = :s',
              ConditionExpression: 'attribute_not_exists(pk)',
              ExpressionAttributeNames: { '#s': 'status' },
              ExpressionAttributeValues: { ':s': 'claimed' },
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            }),
          )
          .then(
            () => undefined,
            (err: unknown) => err,
          ),
      );
    }
    const [fromSdk, fromJson] = failures;
    expect(fromJson).toBeInstanceOf(ConditionalCheckFailedException);
    expect(fromSdk).toBeInstanceOf(ConditionalCheckFailedException);
    expect((fromJson as ConditionalCheckFailedException).name).toBe('ConditionalCheckFailedException');
    expect((fromJson as ConditionalCheckFailedException).message).toBe(
      (fromSdk as ConditionalCheckFailedException).message,
    );
    // dynalite returns no old item with the error; test/unit/shared/json-document-client.test.ts covers DynamoDB's.
    expect((fromJson as ConditionalCheckFailedException).Item).toEqual(
      (fromSdk as ConditionalCheckFailedException).Item,
    );
  });

  it('batch-writes and batch-gets across tables', async () => {
    const writes = await both(
      (c) =>
        new BatchWriteCommand({
          RequestItems: {
            [table.tableName]: [
              { PutRequest: { Item: { pk: `bw-${c}-1`, n: 1 } } },
              { PutRequest: { Item: { pk: `bw-${c}-2`, n: 2, dropped: undefined } } },
              { DeleteRequest: { Key: { pk: `put-${c}` } } },
            ],
            [conversations]: [{ PutRequest: { Item: { pk: `other-${c}`, micros: 1234 } } }],
          },
        }),
    );
    expect(writes.fromJson).toEqual(writes.fromSdk);
    const reads = await both(
      (c) =>
        new BatchGetCommand({
          RequestItems: {
            [table.tableName]: { Keys: [{ pk: `bw-${c}-1` }, { pk: `bw-${c}-2` }, { pk: `put-${c}` }] },
            [conversations]: { Keys: [{ pk: `other-${c}` }], ProjectionExpression: 'micros' },
          },
        }),
    );
    const sorted = (out: unknown) => {
      const responses = (out as { Responses: Record<string, { n?: number; micros?: number }[]> }).Responses;
      return {
        events: (responses[table.tableName] ?? []).map((i) => i.n).sort(),
        other: responses[conversations],
      };
    };
    expect(sorted(reads.fromJson)).toEqual({ events: [1, 2], other: [{ micros: 1234 }] });
    expect(sorted(reads.fromJson)).toEqual(sorted(reads.fromSdk));
  });

  it('queries and scans with pagination keys', async () => {
    const queries = await both(
      (c) =>
        new QueryCommand({
          TableName: table.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': `bw-${c}-1` },
        }),
    );
    expect((queries.fromJson as { Items: unknown[] }).Items).toEqual([{ pk: 'bw-json-1', n: 1 }]);
    expect((queries.fromSdk as { Count: number }).Count).toBe((queries.fromJson as { Count: number }).Count);
    const first = await json.send(new ScanCommand({ TableName: table.tableName, Limit: 2 }));
    expect(first.Items).toHaveLength(2);
    expect(typeof first.LastEvaluatedKey?.pk).toBe('string');
    const next = await json.send(
      new ScanCommand({ TableName: table.tableName, Limit: 2, ExclusiveStartKey: first.LastEvaluatedKey }),
    );
    expect(next.Items?.length).toBeGreaterThan(0);
    expect(next.Items?.map((i) => i.pk)).not.toContain(first.Items?.[0]?.pk);
  });

  it('deletes and returns the old item', async () => {
    const deletes = await both(
      (c) => new DeleteCommand({ TableName: table.tableName, Key: { pk: `bw-${c}-2` }, ReturnValues: 'ALL_OLD' }),
    );
    expect((deletes.fromJson as { Attributes: unknown }).Attributes).toEqual({ pk: 'bw-json-2', n: 2 });
  });

  it('writes a transaction and answers its consumed capacity as the SDK does', async () => {
    const commits = await both(
      (c) =>
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: table.tableName,
                Item: item(`tx-${c}`),
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            {
              Update: {
                TableName: conversations,
                Key: { pk: `tx-conv-${c}` },
                UpdateExpression: 'SET turns = :turns',
                ExpressionAttributeValues: { ':turns': [{ role: 'user', content: 'hi' }] },
              },
            },
          ],
          ReturnConsumedCapacity: 'TOTAL',
        }),
    );
    expect(commits.fromJson).toEqual(commits.fromSdk);
    expect((commits.fromJson as { ConsumedCapacity: unknown[] }).ConsumedCapacity).toHaveLength(2);
    const written = await json.send(new GetCommand({ TableName: conversations, Key: { pk: 'tx-conv-json' } }));
    expect(written.Item).toEqual({ pk: 'tx-conv-json', turns: [{ role: 'user', content: 'hi' }] });
  });

  it('cancels a transaction as TransactionCanceledException with the same reasons, old images as attribute values', async () => {
    const command = (c: 'sdk' | 'json') =>
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName: table.tableName, Item: { pk: `tx-cancel-${c}` } } },
          {
            ConditionCheck: {
              TableName: table.tableName,
              Key: { pk: `tx-${c}` },
              ConditionExpression: 'attribute_not_exists(pk)',
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            },
          },
        ],
      });
    const fromSdk = await sdk.send(command('sdk')).then(
      () => undefined,
      (err: unknown) => err,
    );
    const fromJson = await json.send(command('json')).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(fromJson).toBeInstanceOf(TransactionCanceledException);
    expect(fromSdk).toBeInstanceOf(TransactionCanceledException);
    expect((fromJson as Error).message).toBe((fromSdk as Error).message);
    const reasons = (err: unknown) =>
      (err as TransactionCanceledException).CancellationReasons?.map(({ Item, ...reason }) => ({
        ...reason,
        text: Item?.text,
      }));
    expect(reasons(fromJson)).toEqual(reasons(fromSdk));
    expect(reasons(fromJson)).toEqual([
      { Code: 'None' },
      { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed', text: { S: item('x').text } },
    ]);
    expect((fromJson as TransactionCanceledException).$metadata.httpStatusCode).toBe(400);
  });

  it('refuses a command it does not translate instead of sending it unmarshalled', async () => {
    await expect(
      json.send(new TransactGetCommand({ TransactItems: [{ Get: { TableName: table.tableName, Key: { pk: 'x' } } }] })),
    ).rejects.toThrow('TransactGetCommand is not supported');
  });
});
