import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { GetCommand, TransactWriteCommand, type TransactWriteCommandInput, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { groupKey } from '#core/conversation-key';
import { joinKey, keyPart } from '#core/key-part';
import {
  DIRECTORY_FIELDS,
  type DirectoryField,
  EMPTY_PROFILE,
  PROFILE_FIELDS,
  type ProfileField,
  type ProfileSource,
  type ProfileValue,
  type StoredProfile,
} from '#core/profile/profile';
import type { DocumentClient } from '#shared/json-document-client';
import type { Member } from './active-users';
import type { ItemRead } from './batch-get';
import type { CapacitySink } from './capacity';

/**
 * Member profiles (docs/PROFILES.md) in the conversations table, under their own key prefix:
 * `profile#<platform>#<tenant>#<user>` (ids escaped and bounded as in conversation keys, so no id can forge another
 * member's key, and no conversation key starts with `profile#`: they start with a platform name). One profile per
 * member per tenant, whichever chat they write in. The table is already encrypted, backed up (PITR), read by the
 * worker alongside the context (one BatchGetItem) and written by the functions that answer.
 *
 * Item: `{pk, kind: 'profile', m_<field>: {value, updatedAt}…, directory?: {values, fetchedAt},
 * directoryFailedAt?, updatedAt, expiresAt}`. Each member-set field is its own attribute, so setting or clearing one is one UpdateItem that touches
 * nothing else. `expiresAt` (TTL, `retentionDays` after the last change) is renewed by every change.
 *
 * Every change is written in one TransactWriteItems with its audit record (who, which field, what source, the value
 * only for fields that are not free text), so no change is stored without its record, nor recorded without being
 * stored.
 */

export interface ProfileStoreOptions {
  readonly tableName: string;
  readonly auditTableName: string;
  readonly retentionDays: number;
  readonly auditRetentionDays: number;
}

/** One audited change, as the audit table keeps it. */
export interface ProfileChange {
  readonly action: 'set' | 'clear' | 'forget' | 'directory';
  /** The fields changed (every field for `forget`). */
  readonly fields: readonly ProfileField[];
  readonly source: ProfileSource;
  /** The new value, only for a field that is not free text (`set` of language, length, style or expertise). */
  readonly value?: string;
}

/** Where a change was made: the member's group partitions its audit record, like the member's invocations. */
export type ProfileOwner = Member;

const SECONDS_PER_DAY = 86_400;
const MEMBER_PREFIX = 'm_';

export function profileKey(member: Pick<Member, 'platform' | 'tenantId' | 'userId'>): string {
  return `profile#${joinKey([member.platform, member.tenantId, member.userId])}`;
}

export class ProfileStore {
  constructor(
    private readonly db: DocumentClient,
    private readonly options: ProfileStoreOptions,
  ) {}

  /**
   * The profile as one read of the worker's batch (`readItems`): strongly consistent like the context's read of the
   * same table (BatchGetItem takes one consistency per table), so a `/forget` is never followed by an answer shaped
   * by the profile it deleted.
   */
  itemRead(member: Member): ItemRead {
    return { table: this.options.tableName, pk: profileKey(member), consistent: true };
  }

  /** One strongly consistent GetItem (callers without a prefetched read: `/v1/chat`, the profile commands). */
  async load(member: Member, now: number, capacity?: CapacitySink): Promise<StoredProfile> {
    const out = await this.db.send(
      new GetCommand({
        TableName: this.options.tableName,
        Key: { pk: profileKey(member) },
        ConsistentRead: true,
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    capacity?.add({ read: out.ConsumedCapacity?.CapacityUnits ?? 1 });
    return this.profileOf(out.Item, now);
  }

  /** The profile a read item holds; absent, expired or malformed: the empty profile. */
  profileOf(item: Readonly<Record<string, unknown>> | undefined, now: number): StoredProfile {
    if (!item || typeof item.expiresAt !== 'number' || item.expiresAt * 1000 < now) return EMPTY_PROFILE;
    const member: Partial<Record<ProfileField, ProfileValue>> = {};
    for (const field of PROFILE_FIELDS) {
      const stored = item[`${MEMBER_PREFIX}${field}`];
      if (isValue(stored)) member[field] = { value: stored.value, updatedAt: stored.updatedAt };
    }
    const directory = directoryOf(item.directory);
    const updatedAt = typeof item.updatedAt === 'number' ? { updatedAt: item.updatedAt } : {};
    const failedAt = typeof item.directoryFailedAt === 'number' ? { directoryFailedAt: item.directoryFailedAt } : {};
    return directory ? { ...updatedAt, member, directory, ...failedAt } : { ...updatedAt, member, ...failedAt };
  }

  /** Sets one member-set value (already validated and masked) and records the change. */
  async set(
    owner: ProfileOwner,
    field: ProfileField,
    value: string,
    change: ProfileChange,
    now: number,
    capacity?: CapacitySink,
  ): Promise<void> {
    await this.write(
      owner,
      {
        Update: {
          TableName: this.options.tableName,
          Key: { pk: profileKey(owner) },
          UpdateExpression: 'SET #f = :v, #kind = :kind, updatedAt = :now, expiresAt = :exp',
          ExpressionAttributeNames: { '#f': `${MEMBER_PREFIX}${field}`, '#kind': 'kind' },
          ExpressionAttributeValues: {
            ':v': { value, updatedAt: now },
            ':kind': 'profile',
            ':now': now,
            ':exp': this.expiresAt(now),
          },
        },
      },
      change,
      now,
      capacity,
    );
  }

  /** Removes one member-set value and records the change; clearing an unset field is recorded too (it was asked). */
  async clear(owner: ProfileOwner, field: ProfileField, now: number, capacity?: CapacitySink): Promise<void> {
    await this.write(
      owner,
      {
        Update: {
          TableName: this.options.tableName,
          Key: { pk: profileKey(owner) },
          UpdateExpression: 'REMOVE #f SET #kind = :kind, updatedAt = :now, expiresAt = :exp',
          ExpressionAttributeNames: { '#f': `${MEMBER_PREFIX}${field}`, '#kind': 'kind' },
          ExpressionAttributeValues: { ':kind': 'profile', ':now': now, ':exp': this.expiresAt(now) },
        },
      },
      { action: 'clear', fields: [field], source: 'member' },
      now,
      capacity,
    );
  }

  /** Deletes the whole profile (member values and the directory's cached answer) and records it. */
  async forget(owner: ProfileOwner, now: number, capacity?: CapacitySink): Promise<void> {
    await this.write(
      owner,
      { Delete: { TableName: this.options.tableName, Key: { pk: profileKey(owner) } } },
      { action: 'forget', fields: [...PROFILE_FIELDS], source: 'member' },
      now,
      capacity,
    );
  }

  /**
   * Caches the directory's answer (`values` may be empty: the directory knows nothing, asked again after the TTL)
   * and clears a recorded failure. Recorded as a change only when the values differ from the cached ones. Conditional on the item being as `read`
   * saw it (same `updatedAt`, or still absent), so a lookup that raced with `/forget` or another change is dropped
   * rather than re-creating or overwriting what the member just did; resolves to false then.
   */
  async putDirectory(
    owner: ProfileOwner,
    values: Readonly<Partial<Record<DirectoryField, string>>>,
    read: StoredProfile,
    now: number,
    capacity?: CapacitySink,
  ): Promise<boolean> {
    const update: TransactItem = {
      Update: {
        TableName: this.options.tableName,
        Key: { pk: profileKey(owner) },
        UpdateExpression:
          'SET directory = :d, #kind = :kind, updatedAt = :now, expiresAt = :exp REMOVE directoryFailedAt',
        ...(read.updatedAt === undefined
          ? { ConditionExpression: 'attribute_not_exists(pk) OR expiresAt < :nowSeconds' }
          : { ConditionExpression: 'updatedAt = :read' }),
        ExpressionAttributeNames: { '#kind': 'kind' },
        ExpressionAttributeValues: {
          ':d': { values, fetchedAt: now },
          ':kind': 'profile',
          ':now': now,
          ':exp': this.expiresAt(now),
          ...(read.updatedAt === undefined ? { ':nowSeconds': Math.floor(now / 1000) } : { ':read': read.updatedAt }),
        },
      },
    };
    const previous = read.directory;
    const changed = DIRECTORY_FIELDS.filter((f) => (previous?.values[f] ?? '') !== (values[f] ?? ''));
    try {
      await this.putDirectoryItem(owner, update, changed, now, capacity);
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException || isConditionCancel(err)) return false;
      throw err;
    }
  }

  /**
   * Records that the directory could not be asked (`directoryFailedAt`), so no container asks it again for this
   * member before the retry window ends: one write per failure, and so at most one per window. Not a change of the
   * profile, so not audited; the cached values stay. Conditional like `putDirectory`: a live item only as `read` saw
   * it (its expiry is left alone), an absent one is created with the retention expiry; an expired item not yet
   * deleted is left alone (resolves to false, as for a race).
   */
  async putDirectoryFailure(
    owner: ProfileOwner,
    read: StoredProfile,
    now: number,
    capacity?: CapacitySink,
  ): Promise<boolean> {
    const live = read.updatedAt !== undefined;
    try {
      const out = await this.db.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: { pk: profileKey(owner) },
          UpdateExpression: live
            ? 'SET directoryFailedAt = :now, updatedAt = :now'
            : 'SET directoryFailedAt = :now, #kind = :kind, updatedAt = :now, expiresAt = :exp',
          ConditionExpression: live ? 'updatedAt = :read' : 'attribute_not_exists(pk)',
          ...(live ? {} : { ExpressionAttributeNames: { '#kind': 'kind' } }),
          ExpressionAttributeValues: live
            ? { ':now': now, ':read': read.updatedAt }
            : { ':now': now, ':kind': 'profile', ':exp': this.expiresAt(now) },
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
      capacity?.add({ write: out.ConsumedCapacity?.CapacityUnits ?? 1 });
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }

  private async putDirectoryItem(
    owner: ProfileOwner,
    update: TransactItem,
    changed: readonly DirectoryField[],
    now: number,
    capacity?: CapacitySink,
  ): Promise<void> {
    if (changed.length === 0 && update.Update) {
      const out = await this.db.send(new UpdateCommand({ ...update.Update, ReturnConsumedCapacity: 'TOTAL' }));
      capacity?.add({ write: out.ConsumedCapacity?.CapacityUnits ?? 1 });
      return;
    }
    await this.write(owner, update, { action: 'directory', fields: changed, source: 'directory' }, now, capacity);
  }

  private expiresAt(now: number): number {
    return Math.floor(now / 1000) + this.options.retentionDays * SECONDS_PER_DAY;
  }

  /** The profile write and its audit record, in one transaction (twice the write units of the two writes). */
  private async write(
    owner: ProfileOwner,
    item: TransactItem,
    change: ProfileChange,
    now: number,
    capacity?: CapacitySink,
  ): Promise<void> {
    const at = new Date(now).toISOString();
    const audit = {
      pk: `GROUP#${groupKey(owner)}`,
      // Distinct from invocation records (`<at>#<eventId>`) at the same instant.
      sk: `${at}#profile#${keyPart(`${owner.userId}#${change.action}#${change.fields.join(',')}`)}`,
      kind: 'profile_change',
      expiresAt: Math.floor(now / 1000) + this.options.auditRetentionDays * SECONDS_PER_DAY,
      at,
      platform: owner.platform,
      tenantId: owner.tenantId,
      chatId: owner.chatId,
      userId: owner.userId,
      action: change.action,
      fields: [...change.fields],
      source: change.source,
      ...(change.value === undefined ? {} : { value: change.value }),
    };
    await this.db.send(
      new TransactWriteCommand({
        TransactItems: [item, { Put: { TableName: this.options.auditTableName, Item: audit } }],
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    capacity?.add({ write: 4 });
  }
}

type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

function isConditionCancel(err: unknown): boolean {
  return (
    err instanceof TransactionCanceledException &&
    (err.CancellationReasons ?? []).some((reason) => reason.Code === 'ConditionalCheckFailed')
  );
}

function isValue(value: unknown): value is ProfileValue {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.value === 'string' && typeof v.updatedAt === 'number';
}

function directoryOf(value: unknown): StoredProfile['directory'] {
  if (typeof value !== 'object' || value === null) return undefined;
  const d = value as Record<string, unknown>;
  if (typeof d.fetchedAt !== 'number' || typeof d.values !== 'object' || d.values === null) return undefined;
  const raw = d.values as Record<string, unknown>;
  const values: Partial<Record<DirectoryField, string>> = {};
  for (const field of DIRECTORY_FIELDS) {
    const v = raw[field];
    if (typeof v === 'string' && v.length > 0) values[field] = v;
  }
  return { values, fetchedAt: d.fetchedAt };
}
