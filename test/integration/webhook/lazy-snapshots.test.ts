import { lazyStreamSnapshots } from '#composition/lazy-stream-snapshots';
import { ConfigError } from '#core/errors';
import type { LocalServer } from '../../../sandbox/local-aws/index';
import { type EventsTable, startEventsTable } from '../../helpers/events-table';
import { localAwsEnv } from '../../helpers/local-aws-json';

/**
 * The webhook's stream-snapshot store for WeCom refreshes: built on its first call, against the events table the
 * worker writes; a build that fails (here: no credentials in the environment yet) is tried again by the next call.
 */
let table: EventsTable;
let server: LocalServer;
let tableName: string;

beforeAll(async () => {
  table = await startEventsTable('lazy-snapshots-');
  ({ server, tableName } = table);
});

afterAll(async () => {
  await table.stop();
});

describe('lazyStreamSnapshots', () => {
  it('reads and writes the worker’s snapshot rows once built', async () => {
    const env = localAwsEnv({ region: 'us-east-1', endpoints: { dynamo: server.endpoint, sqs: 'http://127.0.0.1:9' } });
    const store = lazyStreamSnapshots(tableName, env);
    expect(await store.get('s-1')).toBeUndefined();
    expect(await store.put('s-1', { content: '你好', finish: false, updatedAt: 1 })).toBe(true);
    expect(await store.get('s-1')).toEqual({ content: '你好', finish: false, updatedAt: 1 });
    expect(await store.firstPolledAt('s-2', 1_000)).toBe(1_000);
    expect(await store.firstPolledAt('s-2', 2_000)).toBe(1_000);
  });

  it('answers a failed build with its error and builds again on the next call', async () => {
    const env: NodeJS.ProcessEnv = {};
    const store = lazyStreamSnapshots(tableName, env);
    await expect(store.get('s-3')).rejects.toThrow(ConfigError);
    Object.assign(
      env,
      localAwsEnv({ region: 'us-east-1', endpoints: { dynamo: server.endpoint, sqs: 'http://127.0.0.1:9' } }),
    );
    expect(await store.put('s-3', { content: 'again', finish: true, updatedAt: 2 })).toBe(true);
    expect(await store.get('s-3')).toEqual({ content: 'again', finish: true, updatedAt: 2 });
  });
});
