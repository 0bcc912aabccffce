import {
  type AwsClients,
  createAwsClients,
  createTables,
  type LocalServer,
  startDynalite,
} from '../../sandbox/local-aws/index';

/** A dynalite server with the sandbox's tables (the events table's name at hand), for store-level tests. */
export interface EventsTable {
  readonly server: LocalServer;
  readonly clients: AwsClients;
  readonly tableName: string;
  stop(): Promise<void>;
}

/** Starts dynalite and creates the tables under `prefix`; SQS is never called, so its endpoint is a closed port. */
export async function startEventsTable(prefix: string): Promise<EventsTable> {
  const server = await startDynalite();
  const clients = createAwsClients({ dynamoEndpoint: server.endpoint, sqsEndpoint: 'http://127.0.0.1:9' });
  const tableName = (await createTables(clients.dynamo, { prefix })).events;
  return {
    server,
    clients,
    tableName,
    stop: async () => {
      clients.destroy();
      await server.stop();
    },
  };
}
