import { request } from 'node:http';
import {
  ConditionalCheckFailedException,
  DynamoDBServiceException,
  IdempotentParameterMismatchException,
  ResourceNotFoundException,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { DocumentClient } from '#shared/json-document-client';
import type { CapacitySink } from '#stores/capacity';
import { ContextStore } from '#stores/context-store';
import { type Delivery, DeliveryStore } from '#stores/delivery-store';
import { EventStore } from '#stores/event-store';
import {
  type AwsClients,
  createAwsClients,
  createTables,
  type LocalServer,
  startDynalite,
  type TableNames,
} from '../../../sandbox/local-aws/index';

/**
 * The sandbox's dynalite answers TransactWriteItems with DynamoDB's semantics (`dynalite-transactions.ts`): all or
 * nothing, isolated from other writes, DynamoDB's errors on the wire, idempotent by ClientRequestToken.
 */
let server: LocalServer;
let clients: AwsClients;
let tables: TableNames;
/** lib-dynamodb over the SDK's client: DynamoDB's exception classes as the SDK deserialises them. */
let sdk: DynamoDBDocumentClient;

beforeAll(async () => {
  server = await startDynalite();
  clients = createAwsClients({ dynamoEndpoint: server.endpoint, sqsEndpoint: 'http://127.0.0.1:9' });
  tables = await createTables(clients.dynamo, { prefix: 'tx-' });
  sdk = DynamoDBDocumentClient.from(clients.dynamo);
});
afterAll(async () => {
  clients.destroy();
  await server.stop();
});

type TransactItems = NonNullable<TransactWriteCommandInput['TransactItems']>;

const get = async (table: string, pk: string) =>
  (await sdk.send(new GetCommand({ TableName: table, Key: { pk }, ConsistentRead: true }))).Item;
const put = (table: string, item: Record<string, unknown>) =>
  sdk.send(new PutCommand({ TableName: table, Item: item }));
const transact = (TransactItems: TransactItems, extra: Partial<TransactWriteCommandInput> = {}) =>
  sdk.send(new TransactWriteCommand({ TransactItems, ...extra }));
const failure = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (err: unknown) => err,
  );

/** The raw answer to a TransactWriteItems body (dynalite's stand-in does not check signatures). */
async function wire(body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(server.endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.TransactWriteItems' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('TransactWriteItems on the sandbox dynalite', () => {
  it('commits Put, Update, Delete and ConditionCheck across tables, with transactional capacity per table', async () => {
    await put(tables.events, { pk: 'c-upd', n: 1 });
    await put(tables.events, { pk: 'c-del', n: 1 });
    await put(tables.conversations, { pk: 'c-check', version: 3 });
    const out = await transact(
      [
        {
          Put: {
            TableName: tables.conversations,
            Item: { pk: 'c-new', v: 1 },
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        },
        {
          Update: {
            TableName: tables.events,
            Key: { pk: 'c-upd' },
            UpdateExpression: 'SET n = n + :one, #s = :s',
            ConditionExpression: 'n = :n',
            ExpressionAttributeNames: { '#s': 'status' },
            ExpressionAttributeValues: { ':one': 1, ':s': 'replied', ':n': 1 },
          },
        },
        { Delete: { TableName: tables.events, Key: { pk: 'c-del' } } },
        {
          ConditionCheck: {
            TableName: tables.conversations,
            Key: { pk: 'c-check' },
            ConditionExpression: 'version = :v',
            ExpressionAttributeValues: { ':v': 3 },
          },
        },
        // A check on an absent item leaves it absent.
        {
          ConditionCheck: {
            TableName: tables.events,
            Key: { pk: 'c-absent' },
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        },
      ],
      { ReturnConsumedCapacity: 'TOTAL' },
    );
    expect(await get(tables.conversations, 'c-new')).toEqual({ pk: 'c-new', v: 1 });
    expect(await get(tables.events, 'c-upd')).toEqual({ pk: 'c-upd', n: 2, status: 'replied' });
    expect(await get(tables.events, 'c-del')).toBeUndefined();
    expect(await get(tables.conversations, 'c-check')).toEqual({ pk: 'c-check', version: 3 });
    expect(await get(tables.events, 'c-absent')).toBeUndefined();
    const byTable = Object.fromEntries((out.ConsumedCapacity ?? []).map((c) => [c.TableName, c]));
    // Small items: 2 WCU per write, 2 RCU per condition check.
    expect(byTable[tables.conversations]).toEqual({
      TableName: tables.conversations,
      CapacityUnits: 4,
      ReadCapacityUnits: 2,
      WriteCapacityUnits: 2,
    });
    expect(byTable[tables.events]).toEqual({
      TableName: tables.events,
      CapacityUnits: 6,
      ReadCapacityUnits: 2,
      WriteCapacityUnits: 4,
    });
  });

  it('answers INDEXES capacity with the table figures, and none unless asked', async () => {
    const indexes = await transact([{ Put: { TableName: tables.events, Item: { pk: 'cap-1' } } }], {
      ReturnConsumedCapacity: 'INDEXES',
    });
    expect(indexes.ConsumedCapacity).toEqual([
      {
        TableName: tables.events,
        CapacityUnits: 2,
        WriteCapacityUnits: 2,
        Table: { CapacityUnits: 2, WriteCapacityUnits: 2 },
      },
    ]);
    const none = await transact([{ Put: { TableName: tables.events, Item: { pk: 'cap-2' } } }]);
    expect(none.ConsumedCapacity).toBeUndefined();
  });

  it('cancels on a failed condition with nothing written, one reason per item and ALL_OLD images', async () => {
    await put(tables.events, { pk: 'f-a', n: 1 });
    await put(tables.events, { pk: 'f-b', n: 5 });
    await put(tables.events, { pk: 'f-c', n: 7 });
    const err = await failure(
      transact([
        {
          Update: {
            TableName: tables.events,
            Key: { pk: 'f-a' },
            UpdateExpression: 'SET n = :n',
            ExpressionAttributeValues: { ':n': 100 },
          },
        },
        {
          Put: {
            TableName: tables.events,
            Item: { pk: 'f-b', n: 6 },
            ConditionExpression: 'n = :expected',
            ExpressionAttributeValues: { ':expected': 4 },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          },
        },
        { Delete: { TableName: tables.events, Key: { pk: 'f-c' } } },
        { Put: { TableName: tables.events, Item: { pk: 'f-new' } } },
        {
          ConditionCheck: {
            TableName: tables.events,
            Key: { pk: 'f-missing' },
            ConditionExpression: 'attribute_exists(pk)',
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          },
        },
      ]),
    );
    expect(err).toBeInstanceOf(TransactionCanceledException);
    const cancelled = err as TransactionCanceledException;
    expect(cancelled.message).toBe(
      'Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed, None, None, ConditionalCheckFailed]',
    );
    expect(cancelled.$metadata.httpStatusCode).toBe(400);
    expect(cancelled.CancellationReasons).toEqual([
      { Code: 'None' },
      {
        Code: 'ConditionalCheckFailed',
        Message: 'The conditional request failed',
        Item: { pk: { S: 'f-b' }, n: { N: '5' } },
      },
      { Code: 'None' },
      { Code: 'None' },
      // ALL_OLD of an absent item: no Item.
      { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed' },
    ]);
    expect(await get(tables.events, 'f-a')).toEqual({ pk: 'f-a', n: 1 });
    expect(await get(tables.events, 'f-b')).toEqual({ pk: 'f-b', n: 5 });
    expect(await get(tables.events, 'f-c')).toEqual({ pk: 'f-c', n: 7 });
    expect(await get(tables.events, 'f-new')).toBeUndefined();
    expect(await get(tables.events, 'f-missing')).toBeUndefined();
  });

  it('puts back the items it wrote before a later condition failed, an item it created included', async () => {
    await put(tables.events, { pk: 'r-a', n: 1, keep: 'yes' });
    await put(tables.events, { pk: 'r-c', n: 3 });
    const err = await failure(
      transact([
        {
          Update: {
            TableName: tables.events,
            Key: { pk: 'r-a' },
            UpdateExpression: 'SET n = :n REMOVE keep',
            ExpressionAttributeValues: { ':n': 100 },
          },
        },
        { Put: { TableName: tables.events, Item: { pk: 'r-b', n: 2 } } },
        {
          Update: {
            TableName: tables.events,
            Key: { pk: 'r-c' },
            UpdateExpression: 'SET n = :n',
            ConditionExpression: 'n = :expected',
            ExpressionAttributeValues: { ':n': 30, ':expected': 4 },
          },
        },
      ]),
    );
    expect((err as TransactionCanceledException).CancellationReasons).toEqual([
      { Code: 'None' },
      { Code: 'None' },
      { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed' },
    ]);
    expect(await get(tables.events, 'r-a')).toEqual({ pk: 'r-a', n: 1, keep: 'yes' });
    expect(await get(tables.events, 'r-b')).toBeUndefined();
    expect(await get(tables.events, 'r-c')).toEqual({ pk: 'r-c', n: 3 });
  });

  it("answers DynamoDB's wire format for a cancellation", async () => {
    await put(tables.events, { pk: 'w-1', n: 1 });
    const answer = await wire({
      TransactItems: [
        { Put: { TableName: tables.events, Item: { pk: { S: 'w-2' } } } },
        {
          ConditionCheck: {
            TableName: tables.events,
            Key: { pk: { S: 'w-1' } },
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        },
      ],
    });
    expect(answer).toEqual({
      status: 400,
      body: {
        __type: 'com.amazonaws.dynamodb.v20120810#TransactionCanceledException',
        Message:
          'Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed]',
        CancellationReasons: [
          { Code: 'None' },
          { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed' },
        ],
      },
    });
    expect(await get(tables.events, 'w-2')).toBeUndefined();
  });

  describe('validation: ValidationException, nothing written', () => {
    const validationOf = async (items: TransactItems): Promise<string> => {
      const err = await failure(transact(items));
      expect(err).toBeInstanceOf(DynamoDBServiceException);
      expect((err as Error).name).toBe('ValidationException');
      return (err as Error).message;
    };
    const probe = (pk: string) => ({ Put: { TableName: tables.events, Item: { pk } } });

    it('refuses no items and more than 100', async () => {
      expect(await validationOf([])).toMatch(/transactItems.*greater than or equal to 1/);
      const many = Array.from({ length: 101 }, (_, i) => probe(`v-many-${i}`));
      expect(await validationOf(many)).toMatch(/transactItems.*less than or equal to 100/);
      expect(await get(tables.events, 'v-many-0')).toBeUndefined();
    });

    it('refuses two operations on one item', async () => {
      await put(tables.events, { pk: 'v-dup', n: 1 });
      const message = await validationOf([
        probe('v-dup-other'),
        {
          Update: {
            TableName: tables.events,
            Key: { pk: 'v-dup' },
            UpdateExpression: 'SET n = :n',
            ExpressionAttributeValues: { ':n': 2 },
          },
        },
        {
          ConditionCheck: {
            TableName: tables.events,
            Key: { pk: 'v-dup' },
            ConditionExpression: 'attribute_exists(pk)',
          },
        },
      ]);
      expect(message).toBe('Transaction request cannot include multiple operations on one item');
      expect(await get(tables.events, 'v-dup')).toEqual({ pk: 'v-dup', n: 1 });
      expect(await get(tables.events, 'v-dup-other')).toBeUndefined();
    });

    it('refuses an item with no operation or with two', async () => {
      expect(await validationOf([probe('v-none-1'), {}])).toBe(
        'TransactItems can only contain one of Check, Put, Update or Delete',
      );
      expect(
        await validationOf([{ ...probe('v-two'), Delete: { TableName: tables.events, Key: { pk: 'v-two' } } }]),
      ).toBe('TransactItems can only contain one of Check, Put, Update or Delete');
      expect(await get(tables.events, 'v-none-1')).toBeUndefined();
      expect(await get(tables.events, 'v-two')).toBeUndefined();
    });

    it("answers a single request's error: a bad condition, unused names, a key missing from a Put", async () => {
      expect(
        await validationOf([
          probe('v-expr-1'),
          { Put: { TableName: tables.events, Item: { pk: 'v-expr-2' }, ConditionExpression: 'n = = :x' } },
        ]),
      ).toMatch(/Invalid ConditionExpression/);
      expect(
        await validationOf([
          probe('v-expr-3'),
          {
            Delete: {
              TableName: tables.events,
              Key: { pk: 'v-expr-4' },
              ConditionExpression: 'attribute_not_exists(pk)',
              ExpressionAttributeNames: { '#unused': 'x' },
            },
          },
        ]),
      ).toMatch(/ExpressionAttributeNames.*unused/);
      expect(await validationOf([{ Put: { TableName: tables.events, Item: { other: 1 } } }])).toBe(
        'One or more parameter values were invalid: Missing the key pk in the item',
      );
      for (const pk of ['v-expr-1', 'v-expr-2', 'v-expr-3', 'v-expr-4'])
        expect(await get(tables.events, pk)).toBeUndefined();
    });

    it('restores the items already written when a later write fails against its item', async () => {
      await put(tables.events, { pk: 'v-late-1', n: 1 });
      await put(tables.events, { pk: 'v-late-2', n: 'text' });
      const message = await validationOf([
        {
          Update: {
            TableName: tables.events,
            Key: { pk: 'v-late-1' },
            UpdateExpression: 'SET n = :n',
            ExpressionAttributeValues: { ':n': 2 },
          },
        },
        probe('v-late-new'),
        // Adding to a string fails only when applied to the stored item.
        {
          Update: {
            TableName: tables.events,
            Key: { pk: 'v-late-2' },
            UpdateExpression: 'SET n = n + :one',
            ExpressionAttributeValues: { ':one': 1 },
          },
        },
      ]);
      expect(message).toBe('An operand in the update expression has an incorrect data type');
      expect(await get(tables.events, 'v-late-1')).toEqual({ pk: 'v-late-1', n: 1 });
      expect(await get(tables.events, 'v-late-new')).toBeUndefined();
      expect(await get(tables.events, 'v-late-2')).toEqual({ pk: 'v-late-2', n: 'text' });
    });

    it('answers ResourceNotFoundException for a missing table', async () => {
      const err = await failure(
        transact([probe('v-table-1'), { Put: { TableName: 'tx-Nowhere', Item: { pk: 'x' } } }]),
      );
      expect(err).toBeInstanceOf(ResourceNotFoundException);
      expect(await get(tables.events, 'v-table-1')).toBeUndefined();
    });

    it('answers SerializationException for a body that is not JSON', async () => {
      const res = await fetch(server.endpoint, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-amz-json-1.0',
          'x-amz-target': 'DynamoDB_20120810.TransactWriteItems',
        },
        body: '{not json',
      });
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ __type: 'com.amazon.coral.service#SerializationException' });
    });
  });

  describe('ClientRequestToken', () => {
    const increment = (pk: string): TransactItems => [
      {
        Update: {
          TableName: tables.events,
          Key: { pk },
          UpdateExpression: 'ADD n :one',
          ExpressionAttributeValues: { ':one': 1 },
        },
      },
    ];

    it('answers a repeated request with the first outcome without applying it again', async () => {
      const first = await transact(increment('t-count'), {
        ClientRequestToken: 'token-1',
        ReturnConsumedCapacity: 'TOTAL',
      });
      const again = await transact(increment('t-count'), {
        ClientRequestToken: 'token-1',
        ReturnConsumedCapacity: 'TOTAL',
      });
      expect(again.ConsumedCapacity).toEqual(first.ConsumedCapacity);
      expect(await get(tables.events, 't-count')).toEqual({ pk: 't-count', n: 1 });
      // Another token is another transaction.
      await transact(increment('t-count'), { ClientRequestToken: 'token-2' });
      expect(await get(tables.events, 't-count')).toEqual({ pk: 't-count', n: 2 });
    });

    it('answers a repeated cancelled request with its cancellation, though the condition would now hold', async () => {
      const guarded: TransactItems = [
        {
          ConditionCheck: {
            TableName: tables.events,
            Key: { pk: 't-guard' },
            ConditionExpression: 'attribute_exists(pk)',
          },
        },
        ...increment('t-guarded'),
      ];
      expect(await failure(transact(guarded, { ClientRequestToken: 'token-3' }))).toBeInstanceOf(
        TransactionCanceledException,
      );
      await put(tables.events, { pk: 't-guard' });
      expect(await failure(transact(guarded, { ClientRequestToken: 'token-3' }))).toBeInstanceOf(
        TransactionCanceledException,
      );
      expect(await get(tables.events, 't-guarded')).toBeUndefined();
      await transact(guarded, { ClientRequestToken: 'token-4' });
      expect(await get(tables.events, 't-guarded')).toEqual({ pk: 't-guarded', n: 1 });
    });

    it('refuses the same token with another request: IdempotentParameterMismatchException', async () => {
      await transact(increment('t-mismatch'), { ClientRequestToken: 'token-5' });
      const err = await failure(transact(increment('t-other'), { ClientRequestToken: 'token-5' }));
      expect(err).toBeInstanceOf(IdempotentParameterMismatchException);
      expect(await get(tables.events, 't-other')).toBeUndefined();
      expect(await get(tables.events, 't-mismatch')).toEqual({ pk: 't-mismatch', n: 1 });
    });

    it('takes the same members in another order as the same request', async () => {
      const update = {
        TableName: tables.events,
        Key: { pk: { S: 't-order' } },
        UpdateExpression: 'ADD n :one',
        ExpressionAttributeValues: { ':one': { N: '1' } },
      };
      const first = await wire({ ClientRequestToken: 'token-6', TransactItems: [{ Update: update }] });
      expect(first.status).toBe(200);
      const reordered = {
        TransactItems: [
          {
            Update: {
              ExpressionAttributeValues: update.ExpressionAttributeValues,
              UpdateExpression: update.UpdateExpression,
              Key: update.Key,
              TableName: update.TableName,
            },
          },
        ],
        ClientRequestToken: 'token-6',
      };
      expect(await wire(reordered)).toEqual(first);
      expect(await get(tables.events, 't-order')).toEqual({ pk: 't-order', n: 1 });
    });
  });

  it('never interleaves with other writes: of N racing version-guarded appends, each version is won once', async () => {
    const pk = 'race';
    await put(tables.conversations, { pk, version: 0, entries: [] });
    const N = 24;
    let conflicts = 0;
    const countOne = {
      TableName: tables.events,
      Key: { pk: 'race-count' },
      UpdateExpression: 'ADD n :one',
      ExpressionAttributeValues: { ':one': 1 },
    };
    // Each writer re-reads and retries until its entry is in; odd writers use transactions, even ones PutItem.
    const append = async (id: number): Promise<void> => {
      for (;;) {
        const current = (await get(tables.conversations, pk)) as { version: number; entries: number[] };
        const Item = { pk, version: current.version + 1, entries: [...current.entries, id] };
        const guarded = {
          TableName: tables.conversations,
          Item,
          ConditionExpression: 'version = :v',
          ExpressionAttributeValues: { ':v': current.version },
        };
        try {
          if (id % 2 === 1) {
            await transact([{ Put: guarded }, { Update: countOne }]);
          } else {
            await sdk.send(new PutCommand(guarded));
            await sdk.send(new UpdateCommand(countOne));
          }
          return;
        } catch (err) {
          // Only ever the loser of a condition: a transaction fails as a whole, never half-way with its own
          // write's ConditionalCheckFailedException (which a write landing between its check and write would cause).
          const conflict =
            id % 2 === 1
              ? err instanceof TransactionCanceledException &&
                err.CancellationReasons?.map((r) => r.Code).join() === 'ConditionalCheckFailed,None'
              : err instanceof ConditionalCheckFailedException;
          if (!conflict) throw err;
          conflicts++;
        }
      }
    };
    // Transactions that only check the conversation while the appends run: checking must never write it back.
    const check = (id: number) =>
      transact([
        {
          ConditionCheck: { TableName: tables.conversations, Key: { pk }, ConditionExpression: 'attribute_exists(pk)' },
        },
        { Put: { TableName: tables.events, Item: { pk: `race-check-${id}` } } },
      ]);
    await Promise.all(Array.from({ length: N }, (_, id) => Promise.all([append(id), check(id)])));
    const final = (await get(tables.conversations, pk)) as { version: number; entries: number[] };
    expect(final.version).toBe(N);
    expect([...final.entries].sort((a, b) => a - b)).toEqual(Array.from({ length: N }, (_, id) => id));
    expect(await get(tables.events, 'race-count')).toEqual({ pk: 'race-count', n: N });
    // The race was real: writers lost to one another and retried.
    expect(conflicts).toBeGreaterThan(0);
  });
  it('lets other writes through while a client is still sending its write', async () => {
    const stalled = request(server.endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'DynamoDB_20120810.PutItem',
        'content-length': 1000,
      },
    });
    stalled.on('error', () => undefined);
    stalled.write('{"TableName":');
    try {
      await put(tables.events, { pk: 'stall-other' });
      expect(await get(tables.events, 'stall-other')).toEqual({ pk: 'stall-other' });
      await transact([{ Put: { TableName: tables.events, Item: { pk: 'stall-tx' } } }]);
      expect(await get(tables.events, 'stall-tx')).toEqual({ pk: 'stall-tx' });
    } finally {
      stalled.destroy();
    }
  });
});

describe('DeliveryStore against the sandbox dynalite', () => {
  let contexts: ContextStore;
  let events: EventStore;
  const sent: string[] = [];
  const lost: unknown[] = [];
  let store: DeliveryStore;
  const meter = {
    write: 0,
    add(capacity: { write?: number }) {
      meter.write += capacity.write ?? 0;
    },
  } satisfies CapacitySink & { write: number };

  beforeAll(() => {
    // The functions' own document client, counting what it sends.
    const counted: DocumentClient = {
      send: ((command: { constructor: { name: string } }) => {
        sent.push(command.constructor.name.replace(/Command$/, ''));
        return clients.doc.send(command as never);
      }) as DocumentClient['send'],
    };
    events = new EventStore(counted, { tableName: tables.events });
    contexts = new ContextStore(counted, { tableName: tables.conversations, tokenCount: (text) => text.length });
    store = new DeliveryStore(counted, events, contexts, (err) => lost.push(err));
  });
  beforeEach(() => {
    sent.length = 0;
    meter.write = 0;
  });

  const NOW = Date.now();
  const delivery = (eventId: string, loaded: Awaited<ReturnType<ContextStore['load']>>): Delivery => ({
    eventKey: `slack#${eventId}`,
    at: NOW,
    reply: { messageIds: [`m-${eventId}`], fallback: false },
    conversationKey: 'slack#T1#C1#U1',
    turn: { loaded, exchange: { user: `question ${eventId}`, assistant: `answer ${eventId}`, eventId } },
  });

  it('records the replied status and the turn in one TransactWriteItems', async () => {
    await put(tables.events, { pk: 'slack#Ev1', status: 'sending' });
    const loaded = await contexts.load('slack#T1#C1#U1', NOW);
    sent.length = 0;
    await store.record(delivery('Ev1', loaded), NOW, meter);
    expect(sent).toEqual(['TransactWrite']);
    expect(await get(tables.events, 'slack#Ev1')).toMatchObject({ status: 'replied', replyMessageIds: ['m-Ev1'] });
    const context = await contexts.load('slack#T1#C1#U1', NOW);
    expect(context.version).toBe(1);
    expect(context.turns.map((t) => t.eventId)).toEqual(['Ev1', 'Ev1']);
    expect(meter.write).toBe(4);
    expect(lost).toEqual([]);
  });

  it('on a version conflict writes the status alone and appends after re-loading, losing no turn', async () => {
    await put(tables.events, { pk: 'slack#Ev2', status: 'sending' });
    const stale = await contexts.load('slack#T1#C1#U1', NOW);
    // Another message of the member wins the conversation first.
    await contexts.appendTurn('slack#T1#C1#U1', stale, { user: 'q', assistant: 'a', eventId: 'Ev-winner' }, NOW);
    sent.length = 0;
    await store.record(delivery('Ev2', stale), NOW, meter);
    expect(sent[0]).toBe('TransactWrite');
    // Side by side: the status (Update) and appendTurn (its Put on the stale version fails, Get, Put).
    expect(sent.slice(1).sort()).toEqual(['Get', 'Put', 'Put', 'Update']);
    expect(await get(tables.events, 'slack#Ev2')).toMatchObject({ status: 'replied' });
    const context = await contexts.load('slack#T1#C1#U1', NOW);
    expect(context.version).toBe(stale.version + 2);
    expect(context.turns.map((t) => t.eventId)).toEqual(['Ev1', 'Ev1', 'Ev-winner', 'Ev-winner', 'Ev2', 'Ev2']);
    expect(lost).toEqual([]);
    // The transaction is still taken for the next delivery: a conflict does not switch it off.
    await put(tables.events, { pk: 'slack#Ev3', status: 'sending' });
    sent.length = 0;
    await store.record(delivery('Ev3', context), NOW, meter);
    expect(sent).toEqual(['TransactWrite']);
  });
});
