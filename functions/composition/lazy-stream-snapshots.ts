import type { StreamSnapshotStore } from '#stores/stream-snapshots';

/**
 * The events table's stream snapshots, for WeCom's refresh callbacks only: the store (shared with the worker, which
 * writes them) and its lib-dynamodb commands are imported on the first call, so no other request and no cold start
 * pays for loading them.
 */
export function lazyStreamSnapshots(tableName: string, env: NodeJS.ProcessEnv): StreamSnapshotStore {
  let store: Promise<StreamSnapshotStore> | undefined;
  const create = async (): Promise<StreamSnapshotStore> => {
    const [{ DynamoStreamSnapshots }, { createAwsClients }] = await Promise.all([
      import('#stores/stream-snapshots'),
      import('#shared/aws-clients'),
    ]);
    return new DynamoStreamSnapshots(createAwsClients({}, env).doc, { tableName });
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
