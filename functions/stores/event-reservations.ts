import { type AwsJsonClient, AwsServiceError } from '#shared/aws-json-client';

/** `exists`: the event is already known, whatever its status (the webhook answers it as a duplicate). */
export type Reservation = 'reserved' | 'exists';

export interface EventReservationsOptions {
  readonly tableName: string;
  /** @default 86_400 (24 h), as `EventStore` */
  readonly retentionSeconds?: number;
}

const CONDITION_FAILED = 'ConditionalCheckFailedException';

/**
 * The webhook's side of the events table (`EventStore` is the worker's): the durable dedup record written before an
 * event is enqueued, over the hand-signed client (`#shared/aws-json-client`) so the webhook loads no AWS SDK.
 *
 * The item starts the lifecycle `EventStore` documents: `enqueuing` until a worker claims it (`claim` accepts
 * `enqueuing`). The webhook does not mark it `enqueued` after the send: see `ingest` for why nothing needs it.
 */
export class EventReservations {
  private readonly retentionSeconds: number;

  constructor(
    private readonly dynamodb: AwsJsonClient,
    private readonly options: EventReservationsOptions,
  ) {
    this.retentionSeconds = options.retentionSeconds ?? 86_400;
  }

  /** Records the event as being enqueued, unless it is already known (or expired). One conditional write. */
  async reserve(pk: string, now: number): Promise<Reservation> {
    try {
      await this.dynamodb.call('PutItem', {
        TableName: this.options.tableName,
        Item: {
          pk: { S: pk },
          status: { S: 'enqueuing' },
          createdAt: { N: String(now) },
          updatedAt: { N: String(now) },
          expiresAt: { N: String(Math.floor(now / 1000) + this.retentionSeconds) },
        },
        ConditionExpression: 'attribute_not_exists(pk) OR expiresAt < :nowSeconds',
        ExpressionAttributeValues: { ':nowSeconds': { N: String(Math.floor(now / 1000)) } },
      });
      return 'reserved';
    } catch (err) {
      if (err instanceof AwsServiceError && err.code === CONDITION_FAILED) return 'exists';
      throw err;
    }
  }

  /** The enqueue failed: removes the reservation (if still `enqueuing`) so the platform's retry is taken as new. */
  async release(pk: string): Promise<void> {
    try {
      await this.dynamodb.call('DeleteItem', {
        TableName: this.options.tableName,
        Key: { pk: { S: pk } },
        ConditionExpression: '#s = :enqueuing',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: { ':enqueuing': { S: 'enqueuing' } },
      });
    } catch (err) {
      if (!(err instanceof AwsServiceError) || err.code !== CONDITION_FAILED) throw err;
    }
  }
}
