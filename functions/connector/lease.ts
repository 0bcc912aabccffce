import { type AwsJsonClient, type AwsJsonOutput, AwsServiceError } from '#shared/aws-json-client';

/** A lease this replica holds: valid until `until` (epoch ms) unless renewed; `fence` grows with every new holder. */
export interface LeaseGrant {
  readonly key: string;
  readonly holder: string;
  /**
   * Incremented by every acquisition, never by a renewal: a grant whose fence is no longer the item's was lost, and
   * its renewals and release are refused.
   */
  readonly fence: number;
  readonly until: number;
}

/** A lease held elsewhere, as the item shows it (for logs and status). */
export interface LeaseHolder {
  readonly holder: string;
  readonly until: number;
}

/** One named lease among replicas: at most one holds it at a time, by conditional writes. */
export interface LeaseStore {
  /** Takes the lease when it is free or expired (or already this holder's); otherwise who holds it. */
  acquire(holder: string, now: number): Promise<LeaseGrant | LeaseHolder>;
  /** Extends a held lease; undefined when it was lost (expired and taken, fence moved). */
  renew(grant: LeaseGrant, now: number): Promise<LeaseGrant | undefined>;
  /** Ends a held lease at once so another replica may take it; a lost lease is left alone. Never throws. */
  release(grant: LeaseGrant): Promise<void>;
}

export function isGrant(value: LeaseGrant | LeaseHolder): value is LeaseGrant {
  return 'fence' in value;
}

export interface DynamoLeaseOptions {
  readonly tableName: string;
  /** The item's `pk`, e.g. `lease#wecom#<bot id>`: one lease per bot. */
  readonly key: string;
  /** How long an acquisition or renewal holds. @default 30000 */
  readonly durationMs?: number;
}

export const DEFAULT_LEASE_MS = 30_000;
const CONDITION_FAILED = 'ConditionalCheckFailedException';
/** The item outlives its last lease by a day (TTL clean-up of a bot no longer connected); the fence survives until then. */
const ITEM_RETENTION_SECONDS = 86_400;

/**
 * The lease as one item of the events table (`pk` = `lease#…`, no clash with event ids, which are `platform#id`),
 * written only by conditional UpdateItem over the connector's hand-signed client:
 * - acquire: `holder`, `until`, `fence + 1`, if the item is absent, expired (`until < now`) or already this holder's;
 * - renew: `until` only, if `holder` and `fence` are still the grant's;
 * - release: `until = 0`, same condition (the fence stays, so the next holder's is higher).
 * Clocks: `until` is compared with the writer's clock, so replicas' clocks must agree within the lease's safety margin
 * (the caller stops using a grant `marginMs` before `until`); ECS tasks are NTP-synchronised (Amazon Time Sync).
 */
export function dynamoLeaseStore(dynamodb: AwsJsonClient, options: DynamoLeaseOptions): LeaseStore {
  const durationMs = options.durationMs ?? DEFAULT_LEASE_MS;
  const key = { pk: { S: options.key } };
  const expiresAt = (until: number) => ({ N: String(Math.floor(until / 1000) + ITEM_RETENTION_SECONDS) });
  return {
    async acquire(holder, now) {
      const until = now + durationMs;
      try {
        const out = await dynamodb.call('UpdateItem', {
          TableName: options.tableName,
          Key: key,
          UpdateExpression:
            'SET holder = :me, #until = :until, fence = if_not_exists(fence, :zero) + :one, expiresAt = :exp',
          ConditionExpression: 'attribute_not_exists(pk) OR #until < :now OR holder = :me',
          ExpressionAttributeNames: { '#until': 'until' },
          ExpressionAttributeValues: {
            ':me': { S: holder },
            ':until': { N: String(until) },
            ':now': { N: String(now) },
            ':zero': { N: '0' },
            ':one': { N: '1' },
            ':exp': expiresAt(until),
          },
          ReturnValues: 'ALL_NEW',
        });
        return { key: options.key, holder, fence: numberOf(out, 'fence'), until };
      } catch (err) {
        if (!(err instanceof AwsServiceError) || err.code !== CONDITION_FAILED) throw err;
        const current = await dynamodb.call('GetItem', {
          TableName: options.tableName,
          Key: key,
          ConsistentRead: true,
        });
        const item = (current.Item ?? {}) as Record<string, { S?: string; N?: string }>;
        return { holder: item.holder?.S ?? '', until: Number(item.until?.N ?? 0) };
      }
    },
    async renew(grant, now) {
      const until = now + durationMs;
      try {
        await dynamodb.call('UpdateItem', {
          TableName: options.tableName,
          Key: key,
          UpdateExpression: 'SET #until = :until, expiresAt = :exp',
          ConditionExpression: 'holder = :me AND fence = :fence',
          ExpressionAttributeNames: { '#until': 'until' },
          ExpressionAttributeValues: {
            ':me': { S: grant.holder },
            ':fence': { N: String(grant.fence) },
            ':until': { N: String(until) },
            ':exp': expiresAt(until),
          },
        });
        return { ...grant, until };
      } catch (err) {
        if (err instanceof AwsServiceError && err.code === CONDITION_FAILED) return undefined;
        throw err;
      }
    },
    async release(grant) {
      await dynamodb
        .call('UpdateItem', {
          TableName: options.tableName,
          Key: key,
          UpdateExpression: 'SET #until = :zero',
          ConditionExpression: 'holder = :me AND fence = :fence',
          ExpressionAttributeNames: { '#until': 'until' },
          ExpressionAttributeValues: {
            ':me': { S: grant.holder },
            ':fence': { N: String(grant.fence) },
            ':zero': { N: '0' },
          },
        })
        .catch(() => undefined);
    },
  };
}

function numberOf(out: AwsJsonOutput, field: string): number {
  const attributes = out.Attributes as Record<string, { N?: string }> | undefined;
  const value = Number(attributes?.[field]?.N);
  if (!Number.isFinite(value)) throw new Error(`lease UpdateItem returned no ${field}`);
  return value;
}
