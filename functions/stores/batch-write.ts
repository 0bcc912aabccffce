import { BatchWriteCommand, type BatchWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import type { DocumentClient } from '#shared/json-document-client';
import { type BatchRetryOptions, backOff, maxAttemptsOf } from './backoff';
import type { CapacitySink } from './capacity';

/**
 * Lossless `BatchWriteItem` of whole items (puts only): DynamoDB may accept a batch and still leave some of it
 * unwritten (`UnprocessedItems`, under throttling or a partition's limit). Those are written again with backoff
 * (`backoff.ts`); what is still unwritten after the last attempt is returned, never silently dropped, so the caller
 * can keep it durably and try again later.
 *
 * Items per table; the batch must stay within DynamoDB's 25 puts (callers write a ledger row and an audit record).
 */
export type PutBatch = Readonly<Record<string, readonly Record<string, unknown>[]>>;

/** How unprocessed items are written again (`BatchRetryOptions`). */
export type LosslessWriteOptions = BatchRetryOptions;

/** Writes `batch`; resolves to the items still unwritten after every attempt (empty when all were written). */
export async function writeBatchLossless(
  db: DocumentClient,
  batch: PutBatch,
  options: LosslessWriteOptions = {},
  capacity?: CapacitySink,
): Promise<PutBatch> {
  const maxAttempts = maxAttemptsOf(options);
  let pending = batch;
  for (let attempt = 1; attempt <= maxAttempts && countItems(pending) > 0; attempt++) {
    if (attempt > 1) await backOff(attempt, options);
    const out = await db.send(
      new BatchWriteCommand({ RequestItems: toRequestItems(pending), ReturnConsumedCapacity: 'TOTAL' }),
    );
    capacity?.add({ write: (out.ConsumedCapacity ?? []).reduce((n, c) => n + (c.CapacityUnits ?? 0), 0) });
    pending = fromRequestItems(out.UnprocessedItems);
  }
  return pending;
}

export function countItems(batch: PutBatch): number {
  return Object.values(batch).reduce((n, items) => n + items.length, 0);
}

function toRequestItems(batch: PutBatch): NonNullable<BatchWriteCommandInput['RequestItems']> {
  return Object.fromEntries(
    Object.entries(batch)
      .filter(([, items]) => items.length > 0)
      .map(([table, items]) => [table, items.map((Item) => ({ PutRequest: { Item } }))]),
  );
}

function fromRequestItems(unprocessed: BatchWriteCommandInput['RequestItems'] | undefined): PutBatch {
  const batch: Record<string, Record<string, unknown>[]> = {};
  for (const [table, requests] of Object.entries(unprocessed ?? {})) {
    const items = requests.flatMap((r) => (r.PutRequest?.Item ? [r.PutRequest.Item] : []));
    if (items.length > 0) batch[table] = items;
  }
  return batch;
}

/** Items kept in the event's record until they are written (JSON: numbers, strings and nulls only). */
export function encodePutBatch(batch: PutBatch): string {
  return JSON.stringify(batch);
}

export function decodePutBatch(encoded: string): PutBatch {
  const value: unknown = JSON.parse(encoded);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError('pending records are not a table → items map');
  }
  for (const items of Object.values(value)) {
    if (!Array.isArray(items) || items.some((i) => typeof i !== 'object' || i === null || Array.isArray(i))) {
      throw new TypeError('pending records hold something other than items');
    }
  }
  return value as PutBatch;
}
