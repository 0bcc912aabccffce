import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { TABLE_SPECS } from '#shared/table-specs';
import { DynamoStreamSnapshots, supersedes } from '#stores/stream-snapshots';

/** dynalite ships no types; only its factory is used. */
const dynalite: (options: { createTableMs: number }) => Server = require('dynalite');

const T0 = Date.UTC(2026, 2, 1, 9, 0, 0);
let server: Server;
let dynamo: DynamoDBClient;
let doc: DynamoDBDocumentClient;
let store: DynamoStreamSnapshots;
let seq = 0;
const fresh = () => `s${++seq}`;

beforeAll(async () => {
  server = dynalite({ createTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  dynamo = new DynamoDBClient({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  doc = DynamoDBDocumentClient.from(dynamo, { marshallOptions: { removeUndefinedValues: true } });
  const spec = TABLE_SPECS.events;
  await dynamo.send(
    new CreateTableCommand({
      TableName: spec.id,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: spec.partitionKey, AttributeType: 'S' }],
      KeySchema: [{ AttributeName: spec.partitionKey, KeyType: 'HASH' }],
    }),
  );
  store = new DynamoStreamSnapshots(doc, { tableName: spec.id });
});

afterAll(async () => {
  doc.destroy();
  dynamo.destroy();
  await new Promise<void>((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    server.closeAllConnections();
  });
});

const snap = (content: string, updatedAt: number, finish = false) => ({ content, finish, updatedAt });

describe('DynamoStreamSnapshots against dynalite', () => {
  it('has no snapshot for an unknown stream, then returns what was put', async () => {
    const id = fresh();
    expect(await store.get(id)).toBeUndefined();
    expect(await store.put(id, snap('Hello', T0))).toBe(true);
    expect(await store.get(id)).toEqual(snap('Hello', T0));
  });

  it('stores the row as wecom-stream#<id> in the events table, expiring after an hour', async () => {
    const id = fresh();
    await store.put(id, snap('x', T0));
    const row = await doc.send(new GetCommand({ TableName: TABLE_SPECS.events.id, Key: { pk: `wecom-stream#${id}` } }));
    expect(row.Item).toEqual({
      pk: `wecom-stream#${id}`,
      content: 'x',
      finish: false,
      updatedAt: T0,
      expiresAt: Math.floor(T0 / 1000) + 3600,
    });
  });

  it("keeps a finished snapshot's images (WeCom msg_item) and reads back none from an interim one", async () => {
    const id = fresh();
    const images = [{ base64: Buffer.alloc(24 * 1024, 7).toString('base64'), md5: 'a'.repeat(32) }];
    await store.put(id, snap('partial', T0));
    expect(await store.get(id)).not.toHaveProperty('images');
    expect(await store.put(id, { ...snap('done', T0 + 1, true), images })).toBe(true);
    expect(await store.get(id)).toEqual({ ...snap('done', T0 + 1, true), images });
  });

  it('grows with newer snapshots and refuses an older or equally old one', async () => {
    const id = fresh();
    await store.put(id, snap('a', T0));
    expect(await store.put(id, snap('ab', T0 + 500))).toBe(true);
    expect(await store.put(id, snap('stale', T0 + 100))).toBe(false);
    expect(await store.put(id, snap('same time', T0 + 500))).toBe(false);
    expect(await store.get(id)).toEqual(snap('ab', T0 + 500));
  });

  it('a finished snapshot wins over an unfinished one even with an older clock, and is never replaced', async () => {
    const id = fresh();
    await store.put(id, snap('partial', T0 + 1000));
    expect(await store.put(id, snap('final', T0 + 900, true))).toBe(true);
    expect(await store.put(id, snap('late interim', T0 + 5000))).toBe(false);
    expect(await store.put(id, snap('another final', T0 + 6000, true))).toBe(false);
    expect(await store.get(id)).toEqual(snap('final', T0 + 900, true));
  });

  it('stamps the first poll of a stream with no snapshot once, and a snapshot then replaces the stamp', async () => {
    const id = fresh();
    expect(await store.firstPolledAt(id, T0)).toBe(T0);
    expect(await store.firstPolledAt(id, T0 + 60_000)).toBe(T0);
    expect(await store.get(id)).toBeUndefined();
    expect(await store.put(id, snap('first words', T0 + 61_000))).toBe(true);
    expect(await store.get(id)).toEqual(snap('first words', T0 + 61_000));
    // A live stream is as young as the call.
    expect(await store.firstPolledAt(id, T0 + 62_000)).toBe(T0 + 62_000);
  });
});

describe('supersedes', () => {
  it.each([
    ['anything over nothing', undefined, snap('a', 1), true],
    ['newer over older', snap('a', 1), snap('ab', 2), true],
    ['older over newer', snap('ab', 2), snap('a', 1), false],
    ['finished over newer unfinished', snap('ab', 9), snap('abc', 1, true), true],
    ['unfinished over finished', snap('abc', 1, true), snap('abcd', 9), false],
    ['finished over finished', snap('abc', 1, true), snap('xyz', 9, true), false],
  ])('%s', (_name, current, next, expected) => {
    expect(supersedes(current, next)).toBe(expected);
  });
});
