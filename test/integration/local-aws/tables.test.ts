import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateTableCommand, DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { ConfigError } from '#core/errors';
import { TABLE_SPECS, type TableKey } from '#shared/table-specs';
import {
  type AwsClients,
  createAwsClients,
  createTables,
  type LocalServer,
  startDynalite,
  TtlSweeper,
} from '../../../sandbox/local-aws/index';

const NOW_MS = Date.UTC(2026, 0, 15, 12, 0, 0);
const NOW_S = NOW_MS / 1000;

async function startWithClients(dbPath?: string): Promise<{ server: LocalServer; clients: AwsClients }> {
  const server = await startDynalite(dbPath === undefined ? {} : { path: dbPath });
  // The SQS endpoint is unused here; any URL will do.
  const clients = createAwsClients({ dynamoEndpoint: server.endpoint, sqsEndpoint: 'http://127.0.0.1:9' });
  return { server, clients };
}

async function stopAll(server: LocalServer, clients: AwsClients): Promise<void> {
  clients.destroy();
  await server.stop();
}

describe('createTables on dynalite', () => {
  let server: LocalServer;
  let clients: AwsClients;
  let tables: Awaited<ReturnType<typeof createTables>>;

  beforeAll(async () => {
    ({ server, clients } = await startWithClients());
    tables = await createTables(clients.dynamo, { prefix: 'it-' });
  });
  afterAll(() => stopAll(server, clients));

  it('names every table of TABLE_SPECS with the prefix, keyed like TABLE_SPECS', () => {
    expect(tables).toEqual({
      conversations: 'it-Conversations',
      events: 'it-Events',
      answerCache: 'it-AnswerCache',
      ledger: 'it-Ledger',
      audit: 'it-Audit',
    });
  });

  it.each(Object.keys(TABLE_SPECS) as TableKey[])(
    '%s has the spec key schema, GSIs and on-demand billing',
    async (key) => {
      const spec = TABLE_SPECS[key];
      const { Table } = await clients.dynamo.send(new DescribeTableCommand({ TableName: tables[key] }));
      expect(Table?.TableStatus).toBe('ACTIVE');
      expect(Table?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
      const expectedKeys: { AttributeName: string; KeyType: string }[] = [
        { AttributeName: spec.partitionKey, KeyType: 'HASH' },
      ];
      if ('sortKey' in spec) expectedKeys.push({ AttributeName: spec.sortKey, KeyType: 'RANGE' });
      expect(Table?.KeySchema).toEqual(expectedKeys);
      const expectedIndexes = ('globalSecondaryIndexes' in spec ? spec.globalSecondaryIndexes : []).map((index) => ({
        name: index.name,
        keys: [
          { AttributeName: index.partitionKey, KeyType: 'HASH' },
          { AttributeName: index.sortKey, KeyType: 'RANGE' },
        ],
      }));
      const actualIndexes = (Table?.GlobalSecondaryIndexes ?? []).map((index) => ({
        name: index.IndexName,
        keys: index.KeySchema,
      }));
      expect(actualIndexes).toEqual(expectedIndexes);
    },
  );

  it('is idempotent: a second call keeps the tables and their items', async () => {
    await clients.doc.send(new PutCommand({ TableName: tables.events, Item: { pk: 'feishu#e1', status: 'replied' } }));
    await expect(createTables(clients.dynamo, { prefix: 'it-' })).resolves.toEqual(tables);
    const { Item } = await clients.doc.send(new GetCommand({ TableName: tables.events, Key: { pk: 'feishu#e1' } }));
    expect(Item?.status).toBe('replied');
  });

  it('rejects an existing table whose key schema drifted from the spec, naming it', async () => {
    await clients.dynamo.send(
      new CreateTableCommand({
        TableName: 'drift-Events',
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      }),
    );
    const attempt = createTables(clients.dynamo, { prefix: 'drift-' });
    await expect(attempt).rejects.toBeInstanceOf(ConfigError);
    await expect(attempt).rejects.toThrow(/drift-Events: key schema is id:HASH, spec says pk:HASH/);
  });
});

describe('TtlSweeper', () => {
  let server: LocalServer;
  let clients: AwsClients;
  let tables: Awaited<ReturnType<typeof createTables>>;

  beforeAll(async () => {
    ({ server, clients } = await startWithClients());
    tables = await createTables(clients.dynamo, { prefix: 'ttl-' });
  });
  afterAll(() => stopAll(server, clients));

  const put = (TableName: string, Item: Record<string, unknown>) =>
    clients.doc.send(new PutCommand({ TableName, Item }));
  const exists = async (TableName: string, Key: Record<string, string>) =>
    (await clients.doc.send(new GetCommand({ TableName, Key }))).Item !== undefined;

  it('deletes exactly the items whose numeric TTL is before the injected now, in every table', async () => {
    const { conversations, audit } = tables;
    await put(conversations, { pk: 'expired', expiresAt: NOW_S - 1 });
    await put(conversations, { pk: 'expires-now', expiresAt: NOW_S });
    await put(conversations, { pk: 'future', expiresAt: NOW_S + 1800 });
    await put(conversations, { pk: 'no-ttl' });
    // DynamoDB only honours Number TTL attributes; a string is never expired.
    await put(conversations, { pk: 'string-ttl', expiresAt: String(NOW_S - 100) });
    await put(audit, { pk: 'GROUP#slack#T1#C1', sk: '2026-01-01T00:00:00Z#e1', expiresAt: NOW_S - 3600 });
    await put(audit, { pk: 'GROUP#slack#T1#C1', sk: '2026-01-15T12:00:00Z#e2', expiresAt: NOW_S + 3600 });

    const sweeper = new TtlSweeper({
      client: clients.dynamo,
      tables: [
        { tableName: conversations, spec: TABLE_SPECS.conversations },
        { tableName: audit, spec: TABLE_SPECS.audit },
      ],
      now: () => NOW_MS,
    });

    await expect(sweeper.sweep()).resolves.toBe(2);
    expect(await exists(conversations, { pk: 'expired' })).toBe(false);
    expect(await exists(conversations, { pk: 'expires-now' })).toBe(true);
    expect(await exists(conversations, { pk: 'future' })).toBe(true);
    expect(await exists(conversations, { pk: 'no-ttl' })).toBe(true);
    expect(await exists(conversations, { pk: 'string-ttl' })).toBe(true);
    expect(await exists(audit, { pk: 'GROUP#slack#T1#C1', sk: '2026-01-01T00:00:00Z#e1' })).toBe(false);
    expect(await exists(audit, { pk: 'GROUP#slack#T1#C1', sk: '2026-01-15T12:00:00Z#e2' })).toBe(true);

    // Moving the clock past the remaining expiries deletes them on the next sweep, and only then.
    await expect(sweeper.sweep()).resolves.toBe(0);
    let clock = NOW_MS + 3601_000;
    const later = new TtlSweeper({
      client: clients.dynamo,
      tables: [{ tableName: conversations, spec: TABLE_SPECS.conversations }],
      now: () => clock,
    });
    await expect(later.sweep()).resolves.toBe(2);
    expect(await exists(conversations, { pk: 'future' })).toBe(false);
    clock += 86_400_000;
    await expect(later.sweep()).resolves.toBe(0);
    expect(await exists(conversations, { pk: 'no-ttl' })).toBe(true);
  });

  it('pages through tables larger than one Scan page', async () => {
    const { events } = tables;
    const big = 'x'.repeat(20_000);
    // 60 items × 20 KB exceed Scan's 1 MB page, so the sweeper must follow LastEvaluatedKey.
    await Promise.all(
      Array.from({ length: 60 }, (_, i) => put(events, { pk: `slack#big${i}`, payload: big, expiresAt: NOW_S - 10 })),
    );
    const sweeper = new TtlSweeper({
      client: clients.dynamo,
      tables: [{ tableName: events, spec: TABLE_SPECS.events }],
      now: () => NOW_MS,
    });
    await expect(sweeper.sweep()).resolves.toBe(60);
  });

  it('sweeps on its own after start() and stops cleanly', async () => {
    const { answerCache } = tables;
    await put(answerCache, { pk: 'stale-answer', expiresAt: NOW_S - 5 });
    const sweeper = new TtlSweeper({
      client: clients.dynamo,
      tables: [{ tableName: answerCache, spec: TABLE_SPECS.answerCache }],
      now: () => NOW_MS,
      intervalMs: 20,
    });
    sweeper.start();
    try {
      const deadline = Date.now() + 5000;
      while ((await exists(answerCache, { pk: 'stale-answer' })) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(await exists(answerCache, { pk: 'stale-answer' })).toBe(false);
    } finally {
      await sweeper.stop();
    }
  });
});

describe('startDynalite on disk', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'groupgate-dynalite-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('keeps tables and items across a restart on the same path', async () => {
    const first = await startWithClients(dir);
    const tables = await createTables(first.clients.dynamo, { prefix: 'disk-' });
    await first.clients.doc.send(new PutCommand({ TableName: tables.conversations, Item: { pk: 'c1', turns: 3 } }));
    await stopAll(first.server, first.clients);

    const second = await startWithClients(dir);
    try {
      expect(second.server.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      await createTables(second.clients.dynamo, { prefix: 'disk-' });
      const { Item } = await second.clients.doc.send(
        new GetCommand({ TableName: tables.conversations, Key: { pk: 'c1' } }),
      );
      expect(Item).toEqual({ pk: 'c1', turns: 3 });
    } finally {
      await stopAll(second.server, second.clients);
    }
  });

  it('stop() releases the port', async () => {
    const { server, clients } = await startWithClients();
    await stopAll(server, clients);
    const dynamo: DynamoDBClient = createAwsClients({
      dynamoEndpoint: server.endpoint,
      sqsEndpoint: 'http://127.0.0.1:9',
    }).dynamo;
    await expect(dynamo.send(new DescribeTableCommand({ TableName: 'any' }))).rejects.toThrow(/ECONNREFUSED/);
    dynamo.destroy();
  });
});
