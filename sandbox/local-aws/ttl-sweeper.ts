import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import type { TableSpec } from '#shared/table-specs';
import { type LocalAwsLogger, silentLogger } from './logger';
import { keyAttributesOf } from './tables';

export interface SweptTable {
  readonly tableName: string;
  readonly spec: TableSpec;
}

export interface TtlSweeperOptions {
  readonly client: DynamoDBClient;
  readonly tables: readonly SweptTable[];
  /** Epoch milliseconds. @default Date.now */
  readonly now?: () => number;
  /** Pause between sweeps started by `start()`. @default 30000 */
  readonly intervalMs?: number;
  readonly logger?: LocalAwsLogger;
}

/**
 * Emulates DynamoDB TTL, which dynalite lacks: deletes items whose TTL attribute (a Number of epoch seconds) is
 * below `now`. Like DynamoDB it is lazy (an expired item lives until the next sweep, as in AWS where deletion may
 * lag by days), ignores items whose TTL attribute is missing or not a Number, and never deletes an item whose
 * expiry was pushed forward after it was scanned. Readers must therefore still treat `expiresAt < now` as absent.
 */
export class TtlSweeper {
  private readonly now: () => number;
  private readonly intervalMs: number;
  private readonly logger: LocalAwsLogger;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;

  constructor(private readonly options: TtlSweeperOptions) {
    this.now = options.now ?? Date.now;
    this.intervalMs = options.intervalMs ?? 30_000;
    this.logger = options.logger ?? silentLogger;
  }

  /** Sweeps every table once; resolves with the number of items deleted. */
  async sweep(): Promise<number> {
    const nowSeconds = Math.floor(this.now() / 1000);
    const counts = await Promise.all(this.options.tables.map((table) => this.sweepTable(table, nowSeconds)));
    return counts.reduce((sum, count) => sum + count, 0);
  }

  /** Sweeps every `intervalMs` until `stop()`; a failed sweep is logged and retried at the next tick. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.sweep()
        .catch((error: unknown) => {
          this.logger.warn('TTL sweep failed; retrying at the next interval', { error: String(error) });
          return 0;
        })
        .finally(() => {
          this.running = undefined;
        });
    }, this.intervalMs);
    this.timer.unref();
  }

  /** Stops the timer and waits for a sweep in progress. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private async sweepTable({ tableName, spec }: SweptTable, nowSeconds: number): Promise<number> {
    const keyNames = keyAttributesOf(spec);
    const names = { '#ttl': spec.ttlAttribute, ...Object.fromEntries(keyNames.map((name, i) => [`#k${i}`, name])) };
    const values = { ':now': { N: String(nowSeconds) } };
    let deleted = 0;
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.options.client.send(
        new ScanCommand({
          TableName: tableName,
          // A comparison with a Number only matches Number attributes, as DynamoDB TTL requires.
          FilterExpression: '#ttl < :now',
          ProjectionExpression: keyNames.map((_, i) => `#k${i}`).join(', '),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const key of page.Items ?? []) {
        if (await this.deleteIfStillExpired(tableName, key, spec.ttlAttribute, values)) deleted += 1;
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    if (deleted > 0) this.logger.debug('TTL sweep deleted expired items', { tableName, deleted });
    return deleted;
  }

  private async deleteIfStillExpired(
    tableName: string,
    key: Record<string, AttributeValue>,
    ttlAttribute: string,
    values: Record<string, AttributeValue>,
  ): Promise<boolean> {
    try {
      await this.options.client.send(
        new DeleteItemCommand({
          TableName: tableName,
          Key: key,
          ConditionExpression: '#ttl < :now',
          ExpressionAttributeNames: { '#ttl': ttlAttribute },
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}
