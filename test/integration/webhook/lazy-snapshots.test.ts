import { lazyStreamSnapshots } from '#composition/lazy-stream-snapshots';
import { ConfigError } from '#core/errors';
import {
  type AwsClients,
  createAwsClients,
  createTables,
  type LocalServer,
  startDynalite,
} from '../../../sandbox/local-aws/index';
import { localAwsEnv } from '../../helpers/local-aws-json';

/**
 * The webhook's stream-snapshot store for WeCom refreshes: built on its first call, against the events table the
 * worker writes; a build that fails (here: no credentials in the environment yet) is tried again by the next call.
 */
let server: LocalServer;
let clients: AwsClients;
let tableName: string;

beforeAll(async () => {
  server = await startDynalite();
  clients = createAwsClients({ dynamoEndpoint: server.endpoint, sqsEndpoint: 'http://127.0.0.1:9' });
  tableName = (await createTables(clients.dynamo, { prefix: 'lazy-snapshots-' })).events;
});

afterAll(async () => {
  clients.destroy();
  await server.stop();
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
