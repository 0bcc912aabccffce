import { randomUUID } from 'node:crypto';
import { type AwsJsonClient, type AwsJsonOutput, AwsServiceError } from '#shared/aws-json-client';

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

  /**
   * Records the event as being enqueued, unless it is already known (or expired). One conditional write.
   *
   * The write carries a token of this call. The client retries a try that timed out or failed in transit, and that
   * try may have landed: its retry then fails the condition on the call's own reservation. Telling the two apart
   * matters: taken for a duplicate, the event would not be released when its send fails, and the platform's retry
   * would be answered as a duplicate too, so it would never be queued. The item that failed the condition comes
   * back with the error on DynamoDB (`ReturnValuesOnConditionCheckFailure`), so there this costs nothing and needs no
   * GetItem permission (the connector has none); stores that do not return it (dynalite) are asked with one
   * consistent GetItem.
   */
  async reserve(pk: string, now: number): Promise<Reservation> {
    const token = randomUUID();
    try {
      await this.dynamodb.call('PutItem', {
        TableName: this.options.tableName,
        Item: {
          pk: { S: pk },
          status: { S: 'enqueuing' },
          reservation: { S: token },
          createdAt: { N: String(now) },
          updatedAt: { N: String(now) },
          expiresAt: { N: String(Math.floor(now / 1000) + this.retentionSeconds) },
        },
        ConditionExpression: 'attribute_not_exists(pk) OR expiresAt < :nowSeconds',
        ExpressionAttributeValues: { ':nowSeconds': { N: String(Math.floor(now / 1000)) } },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      });
      return 'reserved';
    } catch (err) {
      if (!(err instanceof AwsServiceError) || err.code !== CONDITION_FAILED) throw err;
      // DynamoDB always returns the item that failed the condition (a worker's claim may have written it: no token).
      const holder = err.body.Item !== undefined ? reservationOf(err.body.Item) : await this.holderOf(pk);
      return holder === token ? 'reserved' : 'exists';
    }
  }

  private async holderOf(pk: string): Promise<string | undefined> {
    const out = await this.dynamodb.call('GetItem', {
      TableName: this.options.tableName,
      Key: { pk: { S: pk } },
      ConsistentRead: true,
      ProjectionExpression: 'reservation',
    });
    return reservationOf(out.Item);
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

/** The reservation token of a raw (attribute-value) events item, if it has one. */
function reservationOf(item: AwsJsonOutput[string]): string | undefined {
  if (typeof item !== 'object' || item === null) return undefined;
  const reservation = (item as Record<string, unknown>).reservation;
  if (typeof reservation !== 'object' || reservation === null) return undefined;
  const value = (reservation as Record<string, unknown>).S;
  return typeof value === 'string' ? value : undefined;
}
