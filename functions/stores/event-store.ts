import { ConditionalCheckFailedException, type ReturnConsumedCapacity } from '@aws-sdk/client-dynamodb';
import { GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { OpenedSurface, ReplyTarget } from '#platforms/types';
import type { DocumentClient } from '#shared/json-document-client';
import type { CapacitySink } from './capacity';
import type { ClaimOutcome, DeliveredReply, EventRecord, EventStatus, TransactUpdate } from './event-record';
import { claimUpdate, OPEN_SURFACES_INDEX, openedSurfaceOf, refusedClaim } from './event-record';
import { type OpenSurfaceEntry, openSurfaceEntryOf } from './open-surface';

export interface EventStoreOptions {
  readonly tableName: string;
  /** @default 86_400 (24 h) */
  readonly retentionSeconds?: number;
}

const RCC: ReturnConsumedCapacity = 'TOTAL';

/**
 * The events table: one item per platform event (`platform#eventId`), the durable record behind
 * "never lost, never answered twice".
 *
 * Lifecycle: `enqueuing` (the webhook reserved it before sending it to the queue: `EventReservations`; webhooks
 * before issue 22 also marked it `enqueued` after the send) → `processing` (a worker holds a lease)
 * → `sending` (the platform send is about to start) → `replied` (reply delivered; its message ids recorded).
 * A worker that fails sets `failed`, so the next SQS delivery can claim it at once. `sending` is never claimable:
 * a worker that crashed after the platform accepted the reply (before `replied` was written) must not send again,
 * so once its lease ends the event is reported as `delivery_unknown` and acknowledged (at most one reply).
 * Items expire after `retentionSeconds` (24 h by default), well past the platforms' retry windows (Feishu's last retry comes about 7 h after the first delivery).
 */
export class EventStore {
  private readonly retentionSeconds: number;

  constructor(
    private readonly db: DocumentClient,
    private readonly options: EventStoreOptions,
  ) {
    this.retentionSeconds = options.retentionSeconds ?? 86_400;
  }

  /**
   * Worker: takes a lease on the event before any work. Claimable when new, enqueuing/enqueued, failed, or
   * processing with an expired lease (a crashed worker). A replied event is reported with its reply ids.
   * `resumeSending`: also take over an event whose holder died during its send (`sending`, lease expired) — only for
   * platforms whose send API deduplicates on our idempotency key, so sending again cannot reply twice.
   */
  async claim(
    pk: string,
    now: number,
    leaseMs: number,
    capacity?: CapacitySink,
    options: { readonly resumeSending?: boolean | 'with_surface' } = {},
  ): Promise<ClaimOutcome> {
    try {
      const out = await this.db.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: { pk },
          ...claimUpdate(now, now + leaseMs, this.expiry(now), options.resumeSending ?? false),
          // The whole item: an earlier attempt may have left records to write (`pendingRecords`).
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          ReturnConsumedCapacity: RCC,
        }),
      );
      capacity?.add({ write: out.ConsumedCapacity?.CapacityUnits ?? 1 });
      const pendingRecords = out.Attributes?.pendingRecords;
      const openedSurface = openedSurfaceOf(out.Attributes);
      return {
        outcome: 'claimed',
        attempts: Number(out.Attributes?.attempts ?? 1),
        ...(typeof pendingRecords === 'string' ? { pendingRecords } : {}),
        ...(openedSurface ? { openedSurface } : {}),
      };
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      capacity?.add({ write: 1 });
      const item = err.Item
        ? {
            status: err.Item.status?.S as EventStatus | undefined,
            replyMessageIds: err.Item.replyMessageIds?.L?.map((v) => v.S ?? ''),
            leaseUntil: Number(err.Item.leaseUntil?.N ?? 0),
            pendingRecords: err.Item.pendingRecords?.S,
          }
        : await this.read(pk, capacity);
      return refusedClaim(item, now);
    }
  }

  /**
   * Worker: the platform send starts now. Conditional on still holding the claim (`attempts` is the fencing token
   * `claim` returned), so a worker whose lease ran out and was taken over never sends. Returns false then.
   */
  async markSending(pk: string, now: number, attempts: number, capacity?: CapacitySink): Promise<boolean> {
    return this.conditionalUpdate(
      {
        Key: { pk },
        UpdateExpression: 'SET #s = :sending, updatedAt = :now',
        ConditionExpression: '#s = :processing AND attempts = :attempts',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: {
          ':sending': 'sending',
          ':processing': 'processing',
          ':attempts': attempts,
          ':now': now,
        },
      },
      capacity,
    );
  }

  /**
   * Worker, streaming: the reply's surface exists (card, AI card, stream) and is about to show its first text.
   * Recorded before anything is visible so a redelivery resumes it (`claim` reports it) and, should every delivery
   * fail, the sweeper finishes it after `sweepAt` (with `target`: where the reply goes, so it can reach the surface).
   * Fenced like `markSending`; returns false when the claim was lost.
   */
  async markReplyOpened(
    pk: string,
    now: number,
    attempts: number,
    opened: { readonly surface: OpenedSurface; readonly sweepAt: number; readonly target: ReplyTarget },
    capacity?: CapacitySink,
  ): Promise<boolean> {
    const { surface, sweepAt, target } = opened;
    return this.conditionalUpdate(
      {
        Key: { pk },
        UpdateExpression:
          'SET surfaceId = :id, surfaceOpenedAt = :openedAt, openSurface = :open, surfaceSweepAt = :sweepAt, replyTarget = :target, updatedAt = :now',
        ConditionExpression: '#s = :sending AND attempts = :attempts',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: {
          ':id': surface.id,
          ':openedAt': surface.openedAt,
          ':open': 'open',
          ':sweepAt': sweepAt,
          ':target': JSON.stringify(target),
          ':sending': 'sending',
          ':attempts': attempts,
          ':now': now,
        },
      },
      capacity,
    );
  }

  /** Worker: the reply was delivered. Written right after the send, before the SQS acknowledgement. */
  async markReplied(pk: string, now: number, reply: DeliveredReply, capacity?: CapacitySink): Promise<void> {
    const out = await this.db.send(
      new UpdateCommand({ ...this.buildReplied(pk, now, reply).Update, ReturnConsumedCapacity: RCC }),
    );
    capacity?.add({ write: out.ConsumedCapacity?.CapacityUnits ?? 1 });
  }

  /** The `markReplied` update as a TransactWriteItems entry, to write it together with the conversation's turn. */
  buildReplied(pk: string, now: number, reply: DeliveredReply): TransactUpdate {
    const pending = reply.pendingRecords !== undefined;
    return {
      Update: {
        TableName: this.options.tableName,
        Key: { pk },
        // A streamed reply's surface is settled with it: out of the sweeper's index.
        UpdateExpression: `SET #s = :replied, replyMessageIds = :ids, fallback = :fallback, updatedAt = :now${
          pending ? ', pendingRecords = :pending' : ''
        } REMOVE leaseUntil, openSurface, surfaceSweepAt`,
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: {
          ':replied': 'replied',
          ':ids': [...reply.messageIds],
          ':fallback': reply.fallback,
          ':now': now,
          ...(pending ? { ':pending': reply.pendingRecords } : {}),
        },
      },
    };
  }

  /** Worker: the records an earlier attempt left behind are written now. */
  async clearPendingRecords(pk: string, now: number, capacity?: CapacitySink): Promise<void> {
    await this.conditionalUpdate(
      {
        Key: { pk },
        UpdateExpression: 'SET updatedAt = :now REMOVE pendingRecords',
        ConditionExpression: 'attribute_exists(pendingRecords)',
        ExpressionAttributeValues: { ':now': now },
      },
      capacity,
    );
  }

  /**
   * Worker: gives the lease back after a failure (including a send the platform refused) so the next delivery can
   * claim at once.
   */
  async markFailed(
    pk: string,
    now: number,
    attempts: number,
    capacity?: CapacitySink,
    options: { readonly pendingRecords?: string } = {},
  ): Promise<void> {
    const pending = options.pendingRecords !== undefined;
    await this.conditionalUpdate(
      {
        Key: { pk },
        UpdateExpression: `SET #s = :failed, updatedAt = :now${pending ? ', pendingRecords = :pending' : ''} REMOVE leaseUntil`,
        // Fenced like markSending: a worker that lost its lease must not release the new holder's claim.
        ConditionExpression: '#s IN (:processing, :sending) AND attempts = :attempts',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: {
          ':failed': 'failed',
          ':processing': 'processing',
          ':sending': 'sending',
          ':attempts': attempts,
          ':now': now,
          ...(pending ? { ':pending': options.pendingRecords } : {}),
        },
      },
      capacity,
    );
  }

  /**
   * Stream sweeper: the streamed replies whose surface may still be open and whose sweep time has come
   * (`surfaceSweepAt <= now`), oldest first, at most `limit`. Reads the sparse `openSurfaces` index (eventually
   * consistent: an entry may have been settled since, which `claimForSweep` then refuses). Items past their retention
   * are left out: TTL deletes them lazily, and no delivery can reach them any more either.
   */
  async listOpenSurfaces(now: number, limit: number, capacity?: CapacitySink): Promise<OpenSurfaceEntry[]> {
    const entries: OpenSurfaceEntry[] = [];
    if (limit < 1) return entries;
    let startKey: Record<string, unknown> | undefined;
    do {
      const out = await this.db.send(
        new QueryCommand({
          TableName: this.options.tableName,
          IndexName: OPEN_SURFACES_INDEX,
          KeyConditionExpression: 'openSurface = :open AND surfaceSweepAt <= :now',
          FilterExpression: 'expiresAt >= :nowSeconds',
          ExpressionAttributeValues: { ':open': 'open', ':now': now, ':nowSeconds': Math.floor(now / 1000) },
          Limit: limit - entries.length,
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
          ReturnConsumedCapacity: RCC,
        }),
      );
      capacity?.add({ read: out.ConsumedCapacity?.CapacityUnits ?? 1 });
      for (const item of out.Items ?? []) entries.push(openSurfaceEntryOf(item));
      startKey = out.LastEvaluatedKey;
    } while (startKey && entries.length < limit);
    return entries;
  }

  /**
   * Stream sweeper: takes a lease on an event whose surface is still open, unless a holder's lease is live (a worker
   * is on it) or the reply settled meanwhile. Like `claim`, the event becomes `processing` and `attempts` (the fencing
   * token) goes up; a redelivery arriving now finds it `in_progress`. The sweep time moves to the lease's end, so a
   * surface the sweeper fails to finish goes to the back of the index and cannot starve the others; it is due again
   * once the lease has run out. Returns the new `attempts`, or undefined when refused.
   */
  async claimForSweep(pk: string, now: number, leaseMs: number, capacity?: CapacitySink): Promise<number | undefined> {
    try {
      const out = await this.db.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: { pk },
          UpdateExpression:
            'SET #s = :processing, leaseUntil = :lease, surfaceSweepAt = :lease, updatedAt = :now, attempts = if_not_exists(attempts, :zero) + :one',
          ConditionExpression:
            'attribute_exists(openSurface) AND (attribute_not_exists(leaseUntil) OR leaseUntil < :now)',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: {
            ':processing': 'processing',
            ':lease': now + leaseMs,
            ':now': now,
            ':zero': 0,
            ':one': 1,
          },
          ReturnValues: 'UPDATED_NEW',
          ReturnConsumedCapacity: RCC,
        }),
      );
      capacity?.add({ write: out.ConsumedCapacity?.CapacityUnits ?? 1 });
      return Number(out.Attributes?.attempts);
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      capacity?.add({ write: 1 });
      return undefined;
    }
  }

  /**
   * Stream sweeper: the surface was finished with the interrupted-answer note, so the event is `replied` (as the
   * fallback, with the note's message ids) and leaves the sweeper's index; a later redelivery finds it
   * `already_replied` and does not answer again. Fenced by the `attempts` `claimForSweep` returned; false when the
   * lease was lost to another holder.
   */
  async markSwept(
    pk: string,
    now: number,
    attempts: number,
    messageIds: readonly string[],
    capacity?: CapacitySink,
  ): Promise<boolean> {
    return this.conditionalUpdate(
      {
        Key: { pk },
        UpdateExpression:
          'SET #s = :replied, replyMessageIds = :ids, fallback = :fallback, updatedAt = :now REMOVE leaseUntil, openSurface, surfaceSweepAt',
        ConditionExpression: '#s = :processing AND attempts = :attempts',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: {
          ':replied': 'replied',
          ':ids': [...messageIds],
          ':fallback': true,
          ':processing': 'processing',
          ':attempts': attempts,
          ':now': now,
        },
      },
      capacity,
    );
  }

  /**
   * DynamoDB returns the old item with a failed condition (ReturnValuesOnConditionCheckFailure), so this read only
   * runs against stores that do not (dynalite, in the sandbox): one consistent GetItem.
   */
  private async read(pk: string, capacity?: CapacitySink): Promise<Partial<EventRecord> | undefined> {
    const out = await this.db.send(
      new GetCommand({
        TableName: this.options.tableName,
        Key: { pk },
        ConsistentRead: true,
        ReturnConsumedCapacity: RCC,
      }),
    );
    capacity?.add({ read: out.ConsumedCapacity?.CapacityUnits ?? 1 });
    return out.Item as Partial<EventRecord> | undefined;
  }

  private expiry(now: number): number {
    return Math.floor(now / 1000) + this.retentionSeconds;
  }

  private async conditionalUpdate(
    input: Omit<ConstructorParameters<typeof UpdateCommand>[0], 'TableName'>,
    capacity?: CapacitySink,
  ): Promise<boolean> {
    try {
      const out = await this.db.send(
        new UpdateCommand({ ...input, TableName: this.options.tableName, ReturnConsumedCapacity: RCC }),
      );
      capacity?.add({ write: out.ConsumedCapacity?.CapacityUnits ?? 1 });
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) {
        capacity?.add({ write: 1 });
        return false;
      }
      throw err;
    }
  }
}
