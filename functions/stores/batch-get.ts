import { BatchGetCommand, type BatchGetCommandInput } from '@aws-sdk/lib-dynamodb';
import type { DocumentClient } from '#shared/json-document-client';
import { type BatchRetryOptions, backOff, maxAttemptsOf } from './backoff';
import type { CapacitySink } from './capacity';

/** One item to read by its partition key (`pk`, the key of every single-key table here). */
export interface ItemRead {
  readonly table: string;
  readonly pk: string;
  /** Strongly consistent (1 read unit per 4 KB) or eventually consistent (half that). */
  readonly consistent: boolean;
}

export type Item = Record<string, unknown>;

/** Keys still unread after every attempt: the read failed, as a failed GetItem would. */
export class ItemsNotReadError extends Error {
  constructor(readonly unread: readonly ItemRead[]) {
    super(`${unread.length} DynamoDB item(s) not read after every retry (throttled)`);
    this.name = 'ItemsNotReadError';
  }
}

/** BatchGetItem's limit per request. */
const MAX_KEYS = 100;

/**
 * Items of several tables in one BatchGetItem: one round trip instead of one GetItem each. Keys DynamoDB leaves
 * unprocessed (throttling, the 16 MB response limit) are asked again with backoff (`backoff.ts`).
 *
 * BatchGetItem takes `ConsistentRead` per table, so the reads of one table must agree on it, and it refuses a key
 * listed twice, so repeated reads are asked once. Resolves to the items in the order of `reads` (undefined: absent).
 * @throws ItemsNotReadError when some keys are still unprocessed after the last attempt
 * @throws RangeError for more than 100 distinct keys, TypeError for one table read both ways
 */
export async function readItems(
  db: DocumentClient,
  reads: readonly ItemRead[],
  capacity?: CapacitySink,
  options: BatchRetryOptions = {},
): Promise<(Item | undefined)[]> {
  const found = new Map<string, Item>();
  let pending = distinct(reads);
  if (pending.length > MAX_KEYS)
    throw new RangeError(`BatchGetItem reads at most ${MAX_KEYS} keys, got ${pending.length}`);
  for (let attempt = 1; pending.length > 0; attempt++) {
    if (attempt > maxAttemptsOf(options)) throw new ItemsNotReadError(pending);
    if (attempt > 1) await backOff(attempt, options);
    const out = await db.send(
      new BatchGetCommand({ RequestItems: requestOf(pending), ReturnConsumedCapacity: 'TOTAL' }),
    );
    capacity?.add({ read: consumedReads(out.ConsumedCapacity, pending) });
    for (const [table, items] of Object.entries(out.Responses ?? {})) {
      for (const item of items) if (typeof item.pk === 'string') found.set(idOf(table, item.pk), item);
    }
    const unprocessed = new Set(
      Object.entries(out.UnprocessedKeys ?? {}).flatMap(([table, request]) =>
        (request.Keys ?? []).map((key) => idOf(table, String(key.pk))),
      ),
    );
    pending = pending.filter((read) => unprocessed.has(idOf(read.table, read.pk)));
  }
  return reads.map((read) => found.get(idOf(read.table, read.pk)));
}

function idOf(table: string, pk: string): string {
  return `${table}\u0000${pk}`;
}

function distinct(reads: readonly ItemRead[]): ItemRead[] {
  const consistency = new Map<string, boolean>();
  const byId = new Map<string, ItemRead>();
  for (const read of reads) {
    const agreed = consistency.get(read.table);
    if (agreed !== undefined && agreed !== read.consistent) {
      throw new TypeError(`table ${read.table} is read both consistently and eventually in one BatchGetItem`);
    }
    consistency.set(read.table, read.consistent);
    byId.set(idOf(read.table, read.pk), read);
  }
  return [...byId.values()];
}

function requestOf(reads: readonly ItemRead[]): NonNullable<BatchGetCommandInput['RequestItems']> {
  const request: NonNullable<BatchGetCommandInput['RequestItems']> = {};
  for (const read of reads) {
    const keys = request[read.table]?.Keys ?? [];
    request[read.table] = { Keys: [...keys, { pk: read.pk }], ConsistentRead: read.consistent };
  }
  return request;
}

/** What the call consumed, or, from a store that does not say, what the reads would cost at one 4 KB unit each. */
function consumedReads(
  consumed: readonly { readonly CapacityUnits?: number }[] | undefined,
  reads: readonly ItemRead[],
): number {
  if (consumed !== undefined) return consumed.reduce((n, c) => n + (c.CapacityUnits ?? 0), 0);
  return reads.reduce((n, read) => n + (read.consistent ? 1 : 0.5), 0);
}
