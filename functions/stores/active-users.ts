import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { conversationKey, groupKey } from '#core/conversation-key';
import type { LedgerPlatform } from '#platforms/types';
import type { DocumentClient } from '#shared/json-document-client';
import type { ItemRead } from './batch-get';

/**
 * Daily active users, counted once and durably: the first message of a member in a group on a UTC day creates
 * `active#<yyyy-mm-dd>#<platform>#<tenant>#<chat>#<user>` in the events table with a conditional PutItem; every
 * later message of that member that day (and every redelivery of the first) fails the condition. The caller emits
 * `ActiveUsers = 1` only when `markActive` returns true, so the metric's daily sum is the number of distinct
 * (group, member) pairs however many workers run and however often SQS redelivers. The put costs one write unit
 * whether or not the condition holds; the worker's ledger row counts it. The worker reads the marker with the
 * conversation (`itemRead`, half a read unit in a read it makes anyway) and puts only when it is absent, so a member's
 * later messages that day cost no write.
 */
export interface Member {
  /** A chat platform, or `api` for `/v1/chat` callers (as in their ledger rows). */
  readonly platform: LedgerPlatform;
  readonly tenantId: string;
  readonly chatId: string;
  /** The platform's user id (`IncomingMessage.senderId`). */
  readonly userId: string;
}

/** Kept past the day it counts (DynamoDB TTL deletes lazily); nothing reads it after that. */
const RETENTION_SECONDS = 2 * 86_400;

/**
 * The item key; ids are escaped as in conversation keys so a `#` inside an id cannot forge another member's key,
 * and over-long ones are hashed (`keyPart`), so the key stays under DynamoDB's 2,048-byte limit.
 */
export function activeUserKey(member: Member, now: number): string {
  const day = new Date(now).toISOString().slice(0, 10);
  const who = conversationKey({ ...member, senderId: member.userId }, 'member');
  return `active#${day}#${who}`;
}

/** The member's group as the ledger keys it (`GROUP#<this>`). */
export function memberGroupKey(member: Member): string {
  return groupKey(member);
}

export class ActiveUsers {
  constructor(
    private readonly db: DocumentClient,
    private readonly options: { readonly tableName: string },
  ) {}

  /**
   * Whether the member is already counted for `now`'s UTC day, as one read of a batch (`readItems`): any item under
   * the key says so. Eventually consistent is enough: a marker is never removed on its day, so a stale read can only
   * miss a marker just written, and `markActive`'s condition then refuses the second count.
   */
  itemRead(member: Member, now: number): ItemRead {
    return { table: this.options.tableName, pk: activeUserKey(member, now), consistent: false };
  }

  /** True for the member's first message in this group on `now`'s UTC day; false for every later one. */
  async markActive(member: Member, now: number): Promise<boolean> {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.options.tableName,
          Item: { pk: activeUserKey(member, now), expiresAt: Math.floor(now / 1000) + RETENTION_SECONDS },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }
}
