import type { TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import type { OpenedSurface } from '#platforms/types';

/** The events table's item and the outcomes of its operations (see `EventStore`). */
export type EventStatus = 'enqueuing' | 'enqueued' | 'processing' | 'sending' | 'replied' | 'failed';

export interface EventRecord {
  readonly pk: string;
  readonly status: EventStatus;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly expiresAt: number;
  readonly leaseUntil?: number;
  readonly attempts?: number;
  readonly replyMessageIds?: readonly string[];
  readonly fallback?: boolean;
  /** Ledger and audit items an attempt could not write (JSON, `encodePutBatch`); the next delivery writes them. */
  readonly pendingRecords?: string;
  /** The streaming surface an attempt opened (`markReplyOpened`); kept after `replied` for the audit trail. */
  readonly surfaceId?: string;
  readonly surfaceOpenedAt?: number;
  /**
   * Present (always `open`) while a streamed reply's surface may still be open: the partition key of the sparse
   * `openSurfaces` index the sweeper queries, sorted by `surfaceSweepAt`. Removed once the event is `replied`.
   */
  readonly openSurface?: 'open';
  /** Epoch ms after which the sweeper may finish the surface (past every redelivery the queue can make). */
  readonly surfaceSweepAt?: number;
  /** JSON `ReplyTarget` of the streamed reply, so the sweeper can reach its surface without the queue message. */
  readonly replyTarget?: string;
}

export type ClaimOutcome =
  | {
      readonly outcome: 'claimed';
      readonly attempts: number;
      readonly pendingRecords?: string;
      /** The surface an earlier attempt opened for this event's streamed reply: resume it, never open a second. */
      readonly openedSurface?: OpenedSurface;
    }
  | {
      readonly outcome: 'already_replied';
      readonly replyMessageIds: readonly string[];
      readonly pendingRecords?: string;
    }
  | { readonly outcome: 'in_progress'; readonly leaseUntil: number }
  /** A previous attempt started the send and its lease ended without `replied`: the reply may well be delivered. */
  | { readonly outcome: 'delivery_unknown' };

/** What `markReplied` records: the platform's message ids and whether the reply was the polite fallback. */
export interface DeliveredReply {
  readonly messageIds: readonly string[];
  readonly fallback: boolean;
  /** Ledger and audit items not yet written, kept with the reply so a redelivery writes them without replying. */
  readonly pendingRecords?: string;
}

type TransactWriteItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];
export type TransactUpdate = TransactWriteItem & { readonly Update: NonNullable<TransactWriteItem['Update']> };

/** What a refused claim means, from the item that refused it (absent: expired and swept between the two reads). */
export function refusedClaim(item: Partial<EventRecord> | undefined, now: number): ClaimOutcome {
  if (item?.status === 'replied') {
    return {
      outcome: 'already_replied',
      replyMessageIds: item.replyMessageIds ?? [],
      ...(typeof item.pendingRecords === 'string' ? { pendingRecords: item.pendingRecords } : {}),
    };
  }
  const leaseUntil = Number(item?.leaseUntil ?? 0);
  if (item?.status === 'sending' && leaseUntil < now) return { outcome: 'delivery_unknown' };
  return { outcome: 'in_progress', leaseUntil };
}

/** The name of the sparse index over events whose streamed reply may still be open (sweeper). */
export const OPEN_SURFACES_INDEX = 'openSurfaces';

/** The surface recorded on an item, if any. */
export function openedSurfaceOf(item: Readonly<Record<string, unknown>> | undefined): OpenedSurface | undefined {
  const id = item?.surfaceId;
  const openedAt = item?.surfaceOpenedAt;
  return typeof id === 'string' && typeof openedAt === 'number' ? { id, openedAt } : undefined;
}

/**
 * How long after a `sending` mark the event may still be taken over by a resuming delivery: a deduplicating platform
 * still drops a repeated send (Feishu: 1 h), and a streamed reply's surface is still there to overwrite. With margin.
 */
const RESUME_SENDING_WINDOW_MS = 50 * 60 * 1000;

/**
 * The claim's conditional update: an event that is new, enqueued, failed or whose lease ran out becomes `processing`
 * under a new lease, and `attempts` (the fencing token) goes up by one. `resumeSending` also takes over a `sending`
 * event whose lease ran out while the platform still deduplicates its send (Feishu: 1 h after the first call).
 */
export function claimUpdate(
  now: number,
  leaseUntil: number,
  expiresAt: number,
  resumeSending: boolean | 'with_surface',
) {
  // 'with_surface': only when the holder recorded a streamed reply's surface; a `sending` event without one may have
  // been answered by a plain message the platform cannot deduplicate.
  const surface = resumeSending === 'with_surface' ? ' AND attribute_exists(surfaceId)' : '';
  const resume = resumeSending
    ? ` OR (#s = :sending AND leaseUntil < :now AND updatedAt > :resumeAfter${surface})`
    : '';
  return {
    UpdateExpression:
      'SET #s = :processing, leaseUntil = :lease, updatedAt = :now, attempts = if_not_exists(attempts, :zero) + :one, createdAt = if_not_exists(createdAt, :now), expiresAt = if_not_exists(expiresAt, :exp)',
    ConditionExpression: `attribute_not_exists(pk) OR #s IN (:enqueuing, :enqueued, :failed) OR (#s = :processing AND leaseUntil < :now)${resume}`,
    ExpressionAttributeNames: { '#s': 'status' },
    ExpressionAttributeValues: {
      ':processing': 'processing',
      ...(resumeSending ? { ':sending': 'sending', ':resumeAfter': now - RESUME_SENDING_WINDOW_MS } : {}),
      ':enqueuing': 'enqueuing',
      ':enqueued': 'enqueued',
      ':failed': 'failed',
      ':lease': leaseUntil,
      ':now': now,
      ':zero': 0,
      ':one': 1,
      ':exp': expiresAt,
    },
  };
}
