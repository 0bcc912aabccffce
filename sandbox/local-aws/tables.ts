import {
  type AttributeDefinition,
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  type DynamoDBClient,
  type KeySchemaElement,
  ResourceInUseException,
  type TableDescription,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { ConfigError } from '#core/errors';
import { TABLE_SPECS, type TableKey, type TableSpec } from '#shared/table-specs';

/** Table names keyed like TABLE_SPECS: `tables.conversations`, `tables.events`, ... */
export type TableNames = { readonly [K in TableKey]: string };

export interface CreateTablesOptions {
  /** Prepended to each spec's `id`, e.g. `groupgate-` gives `groupgate-Conversations`. */
  readonly prefix: string;
}

const ACTIVE_POLL_MS = 20;
const ACTIVE_TIMEOUT_MS = 10_000;

/**
 * Creates every table of TABLE_SPECS (same keys and GSIs as the CDK `State` construct, on-demand billing) and
 * asks for TTL on its `ttlAttribute`. Tables that already exist (an on-disk dynalite reused across restarts) are
 * kept with their data, provided their key schema still matches the spec.
 *
 * dynalite answers UpdateTimeToLive with UnknownOperationException, so its TTL is emulated by `TtlSweeper`; the
 * call is still made so the same code enables real TTL on stand-ins that support it.
 */
export async function createTables(client: DynamoDBClient, options: CreateTablesOptions): Promise<TableNames> {
  const entries = Object.entries(TABLE_SPECS) as [TableKey, TableSpec][];
  const names = Object.fromEntries(entries.map(([key, spec]) => [key, `${options.prefix}${spec.id}`])) as Record<
    TableKey,
    string
  >;
  await Promise.all(
    entries.map(async ([key, spec]) => {
      const description = await createOrDescribe(client, names[key], spec);
      assertMatchesSpec(description, spec);
      await waitUntilActive(client, names[key]);
      await enableTtl(client, names[key], spec.ttlAttribute);
    }),
  );
  return names;
}

/** The key attributes of a table, in the order DynamoDB needs them to address an item. */
export function keyAttributesOf(spec: TableSpec): readonly string[] {
  return spec.sortKey === undefined ? [spec.partitionKey] : [spec.partitionKey, spec.sortKey];
}

async function createOrDescribe(client: DynamoDBClient, tableName: string, spec: TableSpec): Promise<TableDescription> {
  try {
    const created = await client.send(new CreateTableCommand(createTableInput(tableName, spec)));
    if (!created.TableDescription) throw new Error(`CreateTable for ${tableName} returned no description`);
    return created.TableDescription;
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
    const existing = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (!existing.Table) throw new Error(`DescribeTable for ${tableName} returned no table`);
    return existing.Table;
  }
}

function createTableInput(tableName: string, spec: TableSpec): CreateTableCommandInput {
  const indexes = spec.globalSecondaryIndexes ?? [];
  // Key attributes are strings (composite keys and ISO times) unless an index sorts by a number (epoch ms).
  const attributeTypes = new Map<string, 'S' | 'N'>(keyAttributesOf(spec).map((name) => [name, 'S']));
  for (const index of indexes) {
    attributeTypes.set(index.partitionKey, 'S');
    attributeTypes.set(index.sortKey, index.sortKeyType ?? 'S');
  }
  const attributeDefinitions: AttributeDefinition[] = [...attributeTypes].map(([name, type]) => ({
    AttributeName: name,
    AttributeType: type,
  }));
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: attributeDefinitions,
    KeySchema: keySchema(spec.partitionKey, spec.sortKey),
    ...(indexes.length === 0
      ? {}
      : {
          GlobalSecondaryIndexes: indexes.map((index) => ({
            IndexName: index.name,
            KeySchema: keySchema(index.partitionKey, index.sortKey),
            Projection: { ProjectionType: 'ALL' },
          })),
        }),
  };
}

function keySchema(partitionKey: string, sortKey: string | undefined): KeySchemaElement[] {
  const hash: KeySchemaElement = { AttributeName: partitionKey, KeyType: 'HASH' };
  return sortKey === undefined ? [hash] : [hash, { AttributeName: sortKey, KeyType: 'RANGE' }];
}

function describeKeys(schema: readonly KeySchemaElement[] | undefined): string {
  return (schema ?? []).map((key) => `${key.AttributeName}:${key.KeyType}`).join(',');
}

function assertMatchesSpec(description: TableDescription, spec: TableSpec): void {
  const problems: string[] = [];
  const expected = describeKeys(keySchema(spec.partitionKey, spec.sortKey));
  const actual = describeKeys(description.KeySchema);
  if (actual !== expected) problems.push(`${description.TableName}: key schema is ${actual}, spec says ${expected}`);
  for (const index of spec.globalSecondaryIndexes ?? []) {
    const found = description.GlobalSecondaryIndexes?.find((candidate) => candidate.IndexName === index.name);
    const wanted = describeKeys(keySchema(index.partitionKey, index.sortKey));
    if (describeKeys(found?.KeySchema) !== wanted) {
      problems.push(`${description.TableName}: index ${index.name} should have keys ${wanted}`);
    }
  }
  if (problems.length > 0) {
    throw new ConfigError([...problems, 'delete the sandbox data directory so the tables are recreated']);
  }
}

async function waitUntilActive(client: DynamoDBClient, tableName: string): Promise<void> {
  const deadline = Date.now() + ACTIVE_TIMEOUT_MS;
  for (;;) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    const indexesActive = (Table?.GlobalSecondaryIndexes ?? []).every((index) => index.IndexStatus === 'ACTIVE');
    if (Table?.TableStatus === 'ACTIVE' && indexesActive) return;
    if (Date.now() > deadline) throw new Error(`table ${tableName} is not ACTIVE after ${ACTIVE_TIMEOUT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, ACTIVE_POLL_MS));
  }
}

async function enableTtl(client: DynamoDBClient, tableName: string, attributeName: string): Promise<void> {
  try {
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: attributeName, Enabled: true },
      }),
    );
  } catch (error) {
    if (!(error instanceof Error && error.name === 'UnknownOperationException')) throw error;
  }
}
