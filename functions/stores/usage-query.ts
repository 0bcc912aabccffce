import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { nanoToUsd } from '#core/cost/exact';
import type { DocumentClient } from '#shared/json-document-client';
import { type Member, memberGroupKey } from './active-users';
import type { CapacitySink } from './capacity';

/**
 * What the `/cost` chat command tells a member: their own and their group's invocations and marginal USD since the
 * start of the current UTC month, read from the ledger partition of the group (pk `GROUP#<group key>`, sk
 * `<ISO time>#<invocation id>`), so the answer needs one Query and no scan or index.
 */
export interface UsageTotals {
  readonly invocations: number;
  /** Marginal USD (the ledger's `totalNanoUsd`, summed exactly, then converted). */
  readonly usd: number;
}

export interface MemberUsage {
  /** `YYYY-MM` of the month summed (UTC). */
  readonly month: string;
  readonly user: UsageTotals;
  readonly group: UsageTotals;
}

/** The ledger fields the sum reads. */
export interface UsageRow {
  readonly userId: string;
  readonly totalNanoUsd: number;
  /** Epoch seconds; DynamoDB deletes lazily, so rows past it are skipped. */
  readonly expiresAt: number;
}

/** ISO time of 00:00 UTC on the first day of `now`'s month. */
export function monthStart(now: number): string {
  const d = new Date(now);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)).toISOString();
}

/** Pure: sums the group's rows, and the member's among them, in integer nano-dollars. */
export function sumUsage(rows: readonly UsageRow[], userId: string, now: number): MemberUsage {
  let group = 0;
  let user = 0;
  let groupNano = 0n;
  let userNano = 0n;
  const nowSeconds = Math.floor(now / 1000);
  for (const row of rows) {
    if (row.expiresAt <= nowSeconds) continue;
    const nano = BigInt(row.totalNanoUsd);
    group += 1;
    groupNano += nano;
    if (row.userId === userId) {
      user += 1;
      userNano += nano;
    }
  }
  return {
    month: monthStart(now).slice(0, 7),
    user: { invocations: user, usd: nanoToUsd(userNano) },
    group: { invocations: group, usd: nanoToUsd(groupNano) },
  };
}

/**
 * Reads every ledger row of the member's group from the start of the month to `now` (all pages; only the three
 * summed attributes are returned, though DynamoDB bills the read by item size) and sums them.
 */
export async function queryMemberUsage(
  db: DocumentClient,
  options: { readonly tableName: string },
  member: Member,
  now: number,
  meter?: CapacitySink,
): Promise<MemberUsage> {
  const rows: UsageRow[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const out = await db.send(
      new QueryCommand({
        TableName: options.tableName,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
        ExpressionAttributeValues: {
          ':pk': `GROUP#${memberGroupKey(member)}`,
          ':from': monthStart(now),
          // `#` sorts below every character of an invocation id's tail, `\uffff` above: the whole of `now`'s ms.
          ':to': `${new Date(now).toISOString()}#\uffff`,
        },
        ProjectionExpression: 'userId, totalNanoUsd, expiresAt',
        ExclusiveStartKey: startKey,
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    meter?.add({ read: out.ConsumedCapacity?.CapacityUnits ?? 0 });
    rows.push(...((out.Items ?? []) as UsageRow[]));
    startKey = out.LastEvaluatedKey;
  } while (startKey);
  return sumUsage(rows, member.userId, now);
}

/** Below a cent, four decimals, so a handful of cheap calls does not read as `$0.00`. */
function usd(amount: number): string {
  return `$${amount.toFixed(amount >= 1 ? 2 : 4)}`;
}

/** The reply, bilingual like the pipeline's other fixed texts. */
export function formatUsage(usage: MemberUsage): string {
  return [
    `本月用量 Usage in ${usage.month} (UTC, marginal cost):`,
    `- 你 You: ${usage.user.invocations} 次 invocations, ${usd(usage.user.usd)}`,
    `- 本群 This group: ${usage.group.invocations} 次 invocations, ${usd(usage.group.usd)}`,
  ].join('\n');
}
