import { awsCredentials, awsEndpoint, awsRegion } from '#shared/aws-env';
import { DYNAMODB } from '#shared/aws-json-client';
import type { StreamSnapshotStore } from '#stores/stream-snapshots';

/**
 * The events table's stream snapshots, for WeCom's refresh callbacks only: the SDK-based store (shared with the
 * worker, which writes them) is imported on the first call, so no other request and no cold start pays for the SDK.
 */
export function lazyStreamSnapshots(tableName: string, env: NodeJS.ProcessEnv): StreamSnapshotStore {
  let store: Promise<StreamSnapshotStore> | undefined;
  const create = async (): Promise<StreamSnapshotStore> => {
    const [{ DynamoStreamSnapshots }, { createAwsClients }] = await Promise.all([
      import('#stores/stream-snapshots'),
      import('#shared/aws-clients'),
    ]);
    const region = awsRegion(env);
    const clients = createAwsClients({
      region,
      dynamoEndpoint: awsEndpoint(DYNAMODB, region, env).href,
      credentials: awsCredentials(env),
    });
    return new DynamoStreamSnapshots(clients.doc, { tableName });
  };
  const load = (): Promise<StreamSnapshotStore> => {
    store ??= create().catch((err: unknown) => {
      store = undefined; // a failed load is retried by the next callback
      throw err;
    });
    return store;
  };
  return {
    get: async (streamId) => (await load()).get(streamId),
    put: async (streamId, snapshot) => (await load()).put(streamId, snapshot),
    firstPolledAt: async (streamId, now) => (await load()).firstPolledAt(streamId, now),
  };
}
