import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { ValidationError } from '#core/errors';
import { fetchSandboxLedger, queryLedgerDays, toReportRows } from '../../../tools/cost-report/source';
import { type LocalLedger, startLocalLedger } from './ledger-tables';
import { makeLedger } from './make-ledger';

const NOW = new Date('2026-12-01T00:00:00Z');
const rows = makeLedger({ invocations: 90, groups: 5, from: '2026-11-01', days: 3, seed: 3 });

describe('toReportRows', () => {
  const range = { from: '2026-11-01', to: '2026-11-03', now: NOW };

  test('keeps valid rows of the range, drops other days and rows past their TTL', () => {
    const expired = { ...rows[0], invocationId: 'old', expiresAt: Math.floor(NOW.getTime() / 1000) - 1 };
    const otherDay = { ...rows[1], invocationId: 'later', day: '2026-11-04' };
    const kept = toReportRows([...rows, expired, otherDay], range);
    expect(kept).toHaveLength(rows.length);
    expect(kept.map((r) => r.invocationId)).not.toContain('old');
    expect(kept.map((r) => r.invocationId)).not.toContain('later');
  });

  test('refuses malformed rows and totals that do not add up, naming them', () => {
    const missing = { ...rows[0], componentsNanoUsd: { ...rows[0]?.componentsNanoUsd, sqs: undefined } };
    const badTotal = { ...rows[1], totalNanoUsd: (rows[1]?.totalNanoUsd ?? 0) + 1 };
    const badPlatform = { ...rows[2], platform: 'teams' };
    expect(() => toReportRows([missing, badTotal, badPlatform, 'not a row'], range)).toThrow(ValidationError);
    try {
      toReportRows([missing, badTotal, badPlatform, 'not a row'], range);
    } catch (error) {
      const message = (error as Error).message;
      expect(message).toContain('row 0: componentsNanoUsd.sqs');
      expect(message).toContain(`row 1 (${rows[1]?.invocationId}): totalNanoUsd`);
      expect(message).toContain('row 2: platform');
      expect(message).toContain('row 3: (root)');
    }
  });
});

describe('queryLedgerDays against dynalite', () => {
  let ledger: LocalLedger;
  const busyDay = makeLedger({ invocations: 60, groups: 20, from: '2026-11-05', days: 1, seed: 5 });

  beforeAll(async () => {
    ledger = await startLocalLedger();
    await ledger.put([...rows, ...busyDay]);
  }, 60_000);
  afterAll(() => ledger.close());

  test('reads exactly the requested days through the byDay index', async () => {
    const items = await queryLedgerDays(ledger.doc, ledger.table, ['2026-11-02', '2026-11-05']);
    const expected = [...rows.filter((r) => r.day === '2026-11-02'), ...busyDay].map((r) => r.invocationId).sort();
    expect((items as { invocationId: string }[]).map((r) => r.invocationId).sort()).toEqual(expected);
    expect(items).toHaveLength(expected.length);
    expect(toReportRows(items, { from: '2026-11-02', to: '2026-11-05', now: NOW })).toHaveLength(expected.length);
  });

  test('a day with no rows reads nothing; a missing table is an error', async () => {
    expect(await queryLedgerDays(ledger.doc, ledger.table, ['2026-10-31'])).toEqual([]);
    await expect(queryLedgerDays(ledger.doc, 'NoSuchTable', ['2026-11-01'])).rejects.toThrow(
      /non-existent table|not found/i,
    );
  });
});

// dynalite answers these queries in one page whatever their size, so only a mock can return LastEvaluatedKey.
test('follows LastEvaluatedKey until the day is read', async () => {
  const mock = mockClient(DynamoDBDocumentClient);
  const page2Key = { pk: 'GROUP#slack#T#C', sk: '2026-11-02T09:00:00.000Z#inv-1', day: '2026-11-02' };
  mock
    .on(QueryCommand)
    .resolvesOnce({ Items: [{ n: 1 }, { n: 2 }], LastEvaluatedKey: page2Key })
    .resolvesOnce({ Items: [{ n: 3 }] });
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
  expect(await queryLedgerDays(doc, 'Ledger', ['2026-11-02'])).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
  const inputs = mock.commandCalls(QueryCommand).map((c) => c.args[0].input);
  expect(inputs).toHaveLength(2);
  expect(inputs[0]).toMatchObject({
    TableName: 'Ledger',
    IndexName: 'byDay',
    KeyConditionExpression: '#day = :day',
    ExpressionAttributeNames: { '#day': 'day' },
    ExpressionAttributeValues: { ':day': '2026-11-02' },
  });
  expect(inputs[0]?.ExclusiveStartKey).toBeUndefined();
  expect(inputs[1]?.ExclusiveStartKey).toEqual(page2Key);
  mock.restore();
});

describe('fetchSandboxLedger', () => {
  let server: Server;
  let base: string;
  let reply: { status: number; body: string };

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url !== '/_sandbox/ledger') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(reply.status, { 'content-type': 'application/json' }).end(reply.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test('GET /_sandbox/ledger: the rows as served', async () => {
    reply = { status: 200, body: JSON.stringify(rows.slice(0, 3)) };
    expect(await fetchSandboxLedger(base)).toEqual(JSON.parse(JSON.stringify(rows.slice(0, 3))));
  });

  test('a non-200, a non-array and an unreachable sandbox are errors that say so', async () => {
    reply = { status: 500, body: '{}' };
    await expect(fetchSandboxLedger(base)).rejects.toThrow(`GET ${base}/_sandbox/ledger answered 500`);
    reply = { status: 200, body: '{"rows":[]}' };
    await expect(fetchSandboxLedger(base)).rejects.toThrow('did not answer a JSON array');
    reply = { status: 200, body: 'not json' };
    await expect(fetchSandboxLedger(base)).rejects.toThrow(ValidationError);
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', () => resolve()));
    const closedUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await expect(fetchSandboxLedger(closedUrl)).rejects.toThrow('Cannot reach the sandbox');
  });
});
