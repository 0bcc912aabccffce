import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { TABLE_SPECS } from '#shared/table-specs';

type Dynalite = (options: { createTableMs: number }) => Server;
/** dynalite ships no types; only its factory is used. */
const dynalite: Dynalite = require('dynalite');

export interface LocalLedger {
  readonly doc: DynamoDBDocumentClient;
  readonly table: string;
  put(items: readonly object[]): Promise<void>;
  close(): Promise<void>;
}

/** dynalite on 127.0.0.1 with the ledger table and its byDay index exactly as TABLE_SPECS defines them. */
export async function startLocalLedger(): Promise<LocalLedger> {
  const server = dynalite({ createTableMs: 0 });
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
  const doc = DynamoDBDocumentClient.from(dynamo);
  const spec = TABLE_SPECS.ledger;
  const [index] = spec.globalSecondaryIndexes;
  const keys = [spec.partitionKey, spec.sortKey, index.partitionKey];
  await dynamo.send(
    new CreateTableCommand({
      TableName: spec.id,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: keys.map((name) => ({ AttributeName: name, AttributeType: 'S' })),
      KeySchema: [
        { AttributeName: spec.partitionKey, KeyType: 'HASH' },
        { AttributeName: spec.sortKey, KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: index.name,
          KeySchema: [
            { AttributeName: index.partitionKey, KeyType: 'HASH' },
            { AttributeName: index.sortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    }),
  );
  return {
    doc,
    table: spec.id,
    async put(items) {
      for (let i = 0; i < items.length; i += 25) {
        const batch = items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item: { ...Item } } }));
        await doc.send(new BatchWriteCommand({ RequestItems: { [spec.id]: batch } }));
      }
    },
    async close() {
      doc.destroy();
      dynamo.destroy();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
