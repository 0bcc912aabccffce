import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createAwsClients } from '#shared/aws-clients';
import type { DocumentClient } from '#shared/json-document-client';
import { TABLE_SPECS, type TableSpec } from '#shared/table-specs';

type Dynalite = (options: { createTableMs: number; deleteTableMs: number; updateTableMs: number }) => Server;

/** dynalite ships no types; only its factory is used. */
const dynalite: Dynalite = require('dynalite');

export interface LocalTables {
  readonly dynamo: DynamoDBClient;
  /** The production client (`functions/shared/aws-clients.ts`). */
  readonly doc: DocumentClient;
  readonly conversations: string;
  readonly answerCache: string;
  close(): Promise<void>;
}

/** Starts dynalite in this process on 127.0.0.1 and creates the conversations and answer-cache tables from TABLE_SPECS. */
export async function startLocalTables(): Promise<LocalTables> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const dynamo = new DynamoDBClient({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const { doc } = createAwsClients({
    region: 'us-east-1',
    dynamoEndpoint: `http://127.0.0.1:${port}`,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const conversations = await createTable(dynamo, TABLE_SPECS.conversations);
  const answerCache = await createTable(dynamo, TABLE_SPECS.answerCache);
  return {
    dynamo,
    doc,
    conversations,
    answerCache,
    async close() {
      dynamo.destroy();
      await new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}

async function createTable(dynamo: DynamoDBClient, spec: TableSpec): Promise<string> {
  await dynamo.send(
    new CreateTableCommand({
      TableName: spec.id,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: spec.partitionKey, AttributeType: 'S' }],
      KeySchema: [{ AttributeName: spec.partitionKey, KeyType: 'HASH' }],
    }),
  );
  return spec.id;
}
