import { type DynamoDBDocumentClient, QueryCommand, type QueryCommandOutput } from '@aws-sdk/lib-dynamodb';
import { COST_COMPONENTS, type CostComponent } from '#core/cost/cost-model';
import type { LedgerRow } from '#core/cost/ledger-row';
import { ValidationError } from '#core/errors';
import { LEDGER_PLATFORMS } from '#platforms/types';
import { TABLE_SPECS } from '#shared/table-specs';
import * as z from '#shared/zod';

/** The ledger fields the report reads; a stored `LedgerRow` has them all (and more, which are ignored). */
export type ReportRow = Pick<
  LedgerRow,
  | 'invocationId'
  | 'platform'
  | 'tenantId'
  | 'chatId'
  | 'userId'
  | 'day'
  | 'at'
  | 'expiresAt'
  | 'cached'
  | 'modelSource'
  | 'tokens'
  | 'usage'
  | 'componentsNanoUsd'
  | 'totalNanoUsd'
>;

const nano = z.int();
const rowSchema = z.object({
  invocationId: z.string().check(z.minLength(1)),
  // The chat platforms and `api` (rows written by `/v1/chat`): a REST call must never make the report unusable.
  platform: z.enum(LEDGER_PLATFORMS),
  tenantId: z.string(),
  chatId: z.string().check(z.minLength(1)),
  userId: z.string().check(z.minLength(1)),
  day: z.string().check(z.regex(/^\d{4}-\d{2}-\d{2}$/)),
  at: z.iso.datetime(),
  expiresAt: z.int(),
  cached: z.boolean(),
  // Which model answered (absent for rows no model answered, and for rows written before the fallback existed).
  modelSource: z.optional(z.enum(['primary', 'fallback'])),
  tokens: z.object({ prompt: nano, completion: nano, total: nano }),
  usage: z.object({ sagemaker: z.nullable(z.object({ busyMs: z.number().check(z.nonnegative()) })) }),
  // Rows written before voice was priced have no `voice` component: it was 0 for them.
  componentsNanoUsd: z.object(
    Object.fromEntries(COST_COMPONENTS.map((c) => [c, c === 'voice' ? z._default(nano, 0) : nano])) as Record<
      CostComponent,
      typeof nano
    >,
  ),
  totalNanoUsd: nano,
});

/**
 * Validates raw ledger items and keeps those of days `from`..`to` not yet expired at `now` (DynamoDB TTL deletes
 * lazily, so an expired row may still be returned). Throws `ValidationError` naming the first bad rows, since a
 * report silently missing rows would under-bill.
 */
export function toReportRows(items: readonly unknown[], range: { from: string; to: string; now: Date }): ReportRow[] {
  const rows: ReportRow[] = [];
  const problems: string[] = [];
  const nowSeconds = Math.floor(range.now.getTime() / 1000);
  items.forEach((item, index) => {
    const parsed = rowSchema.safeParse(item);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      problems.push(`row ${index}: ${issue?.path.map(String).join('.') || '(root)'}: ${issue?.message}`);
      return;
    }
    const row = parsed.data as ReportRow;
    const sum = COST_COMPONENTS.reduce((t, c) => t + row.componentsNanoUsd[c], 0);
    if (sum !== row.totalNanoUsd) {
      problems.push(`row ${index} (${row.invocationId}): totalNanoUsd ${row.totalNanoUsd} ≠ Σ components ${sum}`);
      return;
    }
    if (row.day >= range.from && row.day <= range.to && row.expiresAt > nowSeconds) rows.push(row);
  });
  if (problems.length > 0) {
    const shown = problems.slice(0, 10).join('; ');
    const more = problems.length > 10 ? ` (and ${problems.length - 10} more)` : '';
    throw new ValidationError(`Ledger rows the report cannot use: ${shown}${more}`);
  }
  return rows;
}

/**
 * Reads the raw ledger items of the given days from DynamoDB: one paginated Query of the `byDay` index per day
 * (no Scan), so cost grows with the range, not the table.
 */
export async function queryLedgerDays(
  doc: Pick<DynamoDBDocumentClient, 'send'>,
  table: string,
  days: readonly string[],
): Promise<unknown[]> {
  const index = TABLE_SPECS.ledger.globalSecondaryIndexes[0];
  const items: unknown[] = [];
  for (const day of days) {
    let start: Record<string, unknown> | undefined;
    do {
      const out: QueryCommandOutput = await doc.send(
        new QueryCommand({
          TableName: table,
          IndexName: index.name,
          KeyConditionExpression: '#day = :day',
          ExpressionAttributeNames: { '#day': index.partitionKey },
          ExpressionAttributeValues: { ':day': day },
          ExclusiveStartKey: start,
        }),
      );
      items.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
    } while (start);
  }
  return items;
}

/** Reads every row the sandbox has written (ARCHITECTURE §4.2: `GET /_sandbox/ledger`). */
export async function fetchSandboxLedger(baseUrl: string, fetchImpl: typeof fetch = fetch): Promise<unknown[]> {
  const url = new URL('/_sandbox/ledger', baseUrl);
  let response: Response;
  try {
    response = await fetchImpl(url);
  } catch (cause) {
    throw new Error(
      `Cannot reach the sandbox at ${url}: is \`npm start\` running there? (--sandbox-url, else PORT, else port 3000)`,
      { cause },
    );
  }
  if (!response.ok) throw new Error(`GET ${url} answered ${response.status}`);
  const body: unknown = await response.json().catch(() => undefined);
  if (!Array.isArray(body)) throw new ValidationError(`GET ${url} did not answer a JSON array of ledger rows`);
  return body;
}
