import { ConditionalCheckFailedException, CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { type LocalServer, startDynalite } from '../../../sandbox/local-aws/index';

/**
 * The sandbox's dynalite with its expression parsing memoized (`dynalite-expression-cache.ts`): the same expression
 * texts sent again and again, as the stores send them, must be evaluated with each request's own values, refuse what
 * dynalite refuses, and leave no trace of an earlier request.
 */
let server: LocalServer;
let sdk: DynamoDBDocumentClient;
const TABLE = 'expression-cache';

beforeAll(async () => {
  server = await startDynalite();
  const dynamo = new DynamoDBClient({
    endpoint: server.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  await dynamo.send(
    new CreateTableCommand({
      TableName: TABLE,
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  sdk = DynamoDBDocumentClient.from(dynamo);
});
afterAll(async () => {
  sdk.destroy();
  await server.stop();
});

/** A claim fenced by `attempts`, the shape of the worker's: one text, new values each time. */
const claim = (attempts: number, owner: string) =>
  sdk.send(
    new UpdateCommand({
      TableName: TABLE,
      Key: { pk: 'event', sk: 'e1' },
      UpdateExpression: 'SET #owner = :owner, attempts = :next',
      ConditionExpression: 'attribute_not_exists(attempts) OR attempts = :attempts',
      ExpressionAttributeNames: { '#owner': 'owner' },
      ExpressionAttributeValues: { ':owner': owner, ':next': attempts + 1, ':attempts': attempts },
    }),
  );

describe('memoized expression parsing on the sandbox dynalite', () => {
  it('evaluates a repeated condition and update with each request’s own values', async () => {
    for (let attempts = 0; attempts < 20; attempts += 1) {
      await claim(attempts, `worker-${attempts}`);
      // A stale fence, same text, fails on its own values.
      await expect(claim(attempts, 'late')).rejects.toBeInstanceOf(ConditionalCheckFailedException);
    }
    const item = (await sdk.send(new GetCommand({ TableName: TABLE, Key: { pk: 'event', sk: 'e1' } }))).Item;
    expect(item).toEqual({ pk: 'event', sk: 'e1', owner: 'worker-19', attempts: 20 });
  });

  it('answers each query with its own key values though the key condition text repeats', async () => {
    for (const pk of ['a', 'b']) {
      for (const sk of ['1', '2', '3']) await sdk.send(new PutCommand({ TableName: TABLE, Item: { pk, sk } }));
    }
    const query = (pk: string, after: string) =>
      sdk.send(
        new QueryCommand({
          TableName: TABLE,
          KeyConditionExpression: 'pk = :pk AND sk > :after',
          ExpressionAttributeValues: { ':pk': pk, ':after': after },
        }),
      );
    expect((await query('a', '1')).Items?.map((item) => `${item.pk}${item.sk}`)).toEqual(['a2', 'a3']);
    expect((await query('b', '2')).Items?.map((item) => `${item.pk}${item.sk}`)).toEqual(['b3']);
    expect((await query('a', '0')).Items).toHaveLength(3);
  });

  it('still refuses an unused value and a value of the wrong type after the same text succeeded', async () => {
    const add = (value: unknown, extra: Record<string, unknown> = {}) =>
      sdk.send(
        new UpdateCommand({
          TableName: TABLE,
          Key: { pk: 'counter', sk: 'c' },
          UpdateExpression: 'ADD hits :n',
          ExpressionAttributeValues: { ':n': value, ...extra },
        }),
      );
    await add(1);
    await add(2);
    await expect(add(3, { ':unused': 'x' })).rejects.toThrow(
      'Value provided in ExpressionAttributeValues unused in expressions: keys: {:unused}',
    );
    await expect(add('three')).rejects.toThrow(
      'Incorrect operand type for operator or function; operator: ADD, operand type: STRING',
    );
    const item = (await sdk.send(new GetCommand({ TableName: TABLE, Key: { pk: 'counter', sk: 'c' } }))).Item;
    expect(item?.hits).toBe(3);
  });
});
