import { DeleteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { EMPTY_PROFILE } from '#core/profile/profile';
import type { Member } from '#stores/active-users';
import { ProfileStore, profileKey } from '#stores/profile-store';
import {
  type AwsClients,
  createAwsClients,
  createTables,
  type LocalServer,
  startDynalite,
  type TableNames,
} from '../../../sandbox/local-aws/index';

/**
 * The directory's failure record on dynalite (with the sandbox's TransactWriteItems emulation, which profile changes
 * use): a failed lookup is written once into the member's profile item (`directoryFailedAt`), read back by every
 * container, cleared by the next answer the directory gives, and never re-creates or overwrites what a member
 * changed meanwhile.
 */
const T0 = Date.UTC(2026, 11, 5, 9, 0, 0);
const DAY_SECONDS = 86_400;

let server: LocalServer;
let clients: AwsClients;
let tables: TableNames;
let store: ProfileStore;
let seq = 0;

beforeAll(async () => {
  server = await startDynalite();
  clients = createAwsClients({ dynamoEndpoint: server.endpoint, sqsEndpoint: 'http://127.0.0.1:9' });
  tables = await createTables(clients.dynamo, { prefix: 'profile-store-' });
  store = new ProfileStore(clients.doc, {
    tableName: tables.conversations,
    auditTableName: tables.audit,
    retentionDays: 365,
    auditRetentionDays: 90,
  });
});

afterAll(async () => {
  clients.destroy();
  await server.stop();
});

function freshMember(): Member {
  seq += 1;
  return { platform: 'wecom', tenantId: 'corp', chatId: 'chat', userId: `member${seq}` };
}

async function rawItem(member: Member) {
  const out = await clients.doc.send(
    new GetCommand({ TableName: tables.conversations, Key: { pk: profileKey(member) }, ConsistentRead: true }),
  );
  return out.Item;
}

it('records a failure for a member without a profile, with the retention expiry, and reads it back', async () => {
  const member = freshMember();
  expect(await store.putDirectoryFailure(member, EMPTY_PROFILE, T0)).toBe(true);
  expect(await rawItem(member)).toEqual({
    pk: profileKey(member),
    kind: 'profile',
    directoryFailedAt: T0,
    updatedAt: T0,
    expiresAt: Math.floor(T0 / 1000) + 365 * DAY_SECONDS,
  });
  expect(await store.load(member, T0 + 60_000)).toEqual({ updatedAt: T0, member: {}, directoryFailedAt: T0 });
});

it('keeps the cached values and the expiry of a live profile; the next answer clears the failure', async () => {
  const member = freshMember();
  expect(await store.putDirectory(member, { role: 'Engineer' }, EMPTY_PROFILE, T0)).toBe(true);
  const cached = await store.load(member, T0);
  const expiresAt = (await rawItem(member))?.expiresAt;

  const failedAt = T0 + 25 * 3_600_000;
  expect(await store.putDirectoryFailure(member, cached, failedAt)).toBe(true);
  const failed = await store.load(member, failedAt);
  expect(failed).toEqual({
    updatedAt: failedAt,
    member: {},
    directory: { values: { role: 'Engineer' }, fetchedAt: T0 },
    directoryFailedAt: failedAt,
  });
  expect((await rawItem(member))?.expiresAt).toBe(expiresAt);

  const answeredAt = failedAt + 15 * 60_000;
  expect(await store.putDirectory(member, { role: 'Engineering manager' }, failed, answeredAt)).toBe(true);
  const answered = await store.load(member, answeredAt);
  expect(answered.directoryFailedAt).toBeUndefined();
  expect(answered.directory).toEqual({ values: { role: 'Engineering manager' }, fetchedAt: answeredAt });
});

it('is dropped, not written, when the profile changed or was forgotten since it was read', async () => {
  const member = freshMember();
  await store.set(member, 'language', 'ja', { action: 'set', fields: ['language'], source: 'member', value: 'ja' }, T0);
  const read = await store.load(member, T0);
  await store.set(
    member,
    'length',
    'short',
    { action: 'set', fields: ['length'], source: 'member', value: 'short' },
    T0 + 1,
  );
  expect(await store.putDirectoryFailure(member, read, T0 + 2)).toBe(false);
  expect((await rawItem(member))?.directoryFailedAt).toBeUndefined();

  // `/forget` after the read: the failure does not bring the item back.
  const current = await store.load(member, T0 + 3);
  await store.forget(member, T0 + 4);
  expect(await store.putDirectoryFailure(member, current, T0 + 5)).toBe(false);
  expect(await rawItem(member)).toBeUndefined();

  // Two containers failing on the same read: the second finds the first's record and writes nothing.
  const other = freshMember();
  expect(await store.putDirectoryFailure(other, EMPTY_PROFILE, T0)).toBe(true);
  expect(await store.putDirectoryFailure(other, EMPTY_PROFILE, T0 + 1)).toBe(false);
  expect((await rawItem(other))?.directoryFailedAt).toBe(T0);
});

it('leaves an expired item TTL has not deleted yet alone', async () => {
  const member = freshMember();
  await clients.doc.send(
    new PutCommand({
      TableName: tables.conversations,
      Item: { pk: profileKey(member), kind: 'profile', updatedAt: T0, expiresAt: Math.floor(T0 / 1000) - 1 },
    }),
  );
  const read = await store.load(member, T0);
  expect(read).toEqual(EMPTY_PROFILE);
  expect(await store.putDirectoryFailure(member, read, T0)).toBe(false);
  expect((await rawItem(member))?.directoryFailedAt).toBeUndefined();
  await clients.doc.send(new DeleteCommand({ TableName: tables.conversations, Key: { pk: profileKey(member) } }));
});
