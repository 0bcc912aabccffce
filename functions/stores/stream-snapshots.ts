import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { DocumentClient } from '#shared/json-document-client';

/**
 * The latest text of a pull-model stream (WeCom AI-bot webhook mode): the worker writes it, the webhook reads it to
 * answer the platform's refresh callbacks. WeCom shows whatever full snapshot the last refresh answer carried, so a
 * snapshot is the whole reply so far, never a delta.
 */
export interface StreamSnapshot {
  /** The whole reply so far, already prepared for the platform (sanitised, neutralised, within its byte limit). */
  readonly content: string;
  /** The reply is complete: the next refresh answer ends the stream. */
  readonly finish: boolean;
  /** Epoch ms of the write on the writer's clock; orders interim snapshots. */
  readonly updatedAt: number;
  /**
   * A finished snapshot's images (WeCom's `msg_item`: the file as base64, the hex md5 of its bytes), already within
   * the platform's count and GroupGate's size caps. Absent on interim snapshots and on replies without images.
   */
  readonly images?: readonly SnapshotImage[];
}

export interface SnapshotImage {
  readonly base64: string;
  readonly md5: string;
}

export interface StreamSnapshotStore {
  /** The stored snapshot, or undefined when the worker has written none yet. */
  get(streamId: string): Promise<StreamSnapshot | undefined>;
  /**
   * Stores `snapshot` unless it would move the stream backwards (`supersedes`).
   * @returns whether it was stored; a refused write is not an error (a newer or finished snapshot is there).
   */
  put(streamId: string, snapshot: StreamSnapshot): Promise<boolean>;
  /**
   * Stamps the first refresh that found no snapshot (a write only the first time) and returns when it was, so a
   * stream nobody ever writes can be closed once the platform's window is over.
   */
  firstPolledAt(streamId: string, now: number): Promise<number>;
}

/**
 * Whether `next` may replace `current`: always when nothing is stored; never over a finished snapshot (the platform
 * may already have shown it as final and stopped polling); a finished one over an unfinished one regardless of clocks
 * (the end must win over a late interim write from another worker); otherwise only a newer one.
 */
export function supersedes(current: StreamSnapshot | undefined, next: StreamSnapshot): boolean {
  if (!current) return true;
  if (current.finish) return false;
  return next.finish || next.updatedAt > current.updatedAt;
}

export interface DynamoStreamSnapshotsOptions {
  /** The events table (partition key `pk`, TTL attribute `expiresAt`). */
  readonly tableName: string;
  /**
   * Seconds a snapshot row lives. WeCom polls for at most 6 minutes from the member's message; an hour leaves room
   * for clock skew and for reading a row while debugging, and TTL deletion lags anyway.
   * @default 3600
   */
  readonly retentionSeconds?: number;
}

const KEY_PREFIX = 'wecom-stream#';

/** Snapshots as rows of the events table, `pk = wecom-stream#<streamId>`; one conditional put per write. */
export class DynamoStreamSnapshots implements StreamSnapshotStore {
  private readonly retentionSeconds: number;

  constructor(
    private readonly db: DocumentClient,
    private readonly options: DynamoStreamSnapshotsOptions,
  ) {
    this.retentionSeconds = options.retentionSeconds ?? 3600;
  }

  async get(streamId: string): Promise<StreamSnapshot | undefined> {
    const out = await this.db.send(
      new GetCommand({ TableName: this.options.tableName, Key: { pk: streamKey(streamId) }, ConsistentRead: true }),
    );
    return snapshotOf(out.Item);
  }

  async put(streamId: string, snapshot: StreamSnapshot): Promise<boolean> {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.options.tableName,
          Item: {
            pk: streamKey(streamId),
            content: snapshot.content,
            finish: snapshot.finish,
            updatedAt: snapshot.updatedAt,
            ...(snapshot.images && snapshot.images.length > 0 ? { images: snapshot.images } : {}),
            expiresAt: this.expiry(snapshot.updatedAt),
          },
          // `supersedes`, as a condition. A row holding only the first-poll stamp has no `finish` yet. (`finish` is
          // a DynamoDB reserved word, hence the alias.)
          ConditionExpression: snapshot.finish
            ? 'attribute_not_exists(pk) OR attribute_not_exists(#f) OR #f = :false'
            : 'attribute_not_exists(pk) OR attribute_not_exists(#f) OR (#f = :false AND updatedAt < :u)',
          ExpressionAttributeNames: { '#f': 'finish' },
          ExpressionAttributeValues: snapshot.finish
            ? { ':false': false }
            : { ':false': false, ':u': snapshot.updatedAt },
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }

  async firstPolledAt(streamId: string, now: number): Promise<number> {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.options.tableName,
          Item: { pk: streamKey(streamId), firstPolledAt: now, expiresAt: this.expiry(now) },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return now;
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      const out = await this.db.send(
        new GetCommand({ TableName: this.options.tableName, Key: { pk: streamKey(streamId) }, ConsistentRead: true }),
      );
      const stamped = out.Item?.firstPolledAt;
      // A snapshot was written in between: the stream is live, so it is as young as the call.
      return typeof stamped === 'number' ? stamped : now;
    }
  }

  private expiry(nowMs: number): number {
    return Math.floor(nowMs / 1000) + this.retentionSeconds;
  }
}

function streamKey(streamId: string): string {
  return `${KEY_PREFIX}${streamId}`;
}

function snapshotOf(item: Record<string, unknown> | undefined): StreamSnapshot | undefined {
  if (!item || typeof item.finish !== 'boolean') return undefined;
  const content = typeof item.content === 'string' ? item.content : '';
  const updatedAt = typeof item.updatedAt === 'number' ? item.updatedAt : 0;
  const images = Array.isArray(item.images) ? item.images.filter(isSnapshotImage) : [];
  return { content, finish: item.finish, updatedAt, ...(images.length > 0 ? { images } : {}) };
}

function isSnapshotImage(value: unknown): value is SnapshotImage {
  if (typeof value !== 'object' || value === null) return false;
  const { base64, md5 } = value as Record<string, unknown>;
  return typeof base64 === 'string' && typeof md5 === 'string';
}
