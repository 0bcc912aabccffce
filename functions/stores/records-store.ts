import type { InvocationRecords } from '#core/records/invocation-records';
import type { DocumentClient } from '#shared/json-document-client';
import { countItems, type LosslessWriteOptions, type PutBatch, writeBatchLossless } from './batch-write';
import type { CapacitySink } from './capacity';

/**
 * The ledger row and the audit record of an invocation, written losslessly: one BatchWriteItem (one round trip),
 * unprocessed items retried with backoff (`writeBatchLossless`). Whatever is still unwritten after the last attempt
 * is thrown back in a `RecordsNotWrittenError`, never dropped: the worker keeps it with its event and writes it on
 * the redelivery (`flush`); `/v1/chat` logs it.
 */

/** Ledger/audit items still unwritten after every retry; `unwritten` is what to keep and write later. */
export class RecordsNotWrittenError extends Error {
  constructor(
    readonly unwritten: PutBatch,
    cause?: unknown,
  ) {
    super(`${countItems(unwritten)} ledger/audit item(s) not written`, cause === undefined ? {} : { cause });
    this.name = 'RecordsNotWrittenError';
  }
}

export interface RecordsStoreOptions {
  readonly ledgerTable: string;
  readonly auditTable: string;
  /** Retry policy of the batch write (tests shorten it). */
  readonly retry?: LosslessWriteOptions;
}

export class RecordsStore {
  constructor(
    private readonly db: DocumentClient,
    private readonly options: RecordsStoreOptions,
  ) {}

  /** @throws RecordsNotWrittenError holding what is still unwritten after the last attempt. */
  async write(records: InvocationRecords, capacity?: CapacitySink): Promise<void> {
    const { ledgerTable, auditTable } = this.options;
    await this.flush({ [ledgerTable]: [{ ...records.ledger }], [auditTable]: [{ ...records.audit }] }, capacity);
  }

  /** Writes records an earlier attempt could not (`RecordsNotWrittenError.unwritten`). @throws RecordsNotWrittenError */
  async flush(batch: PutBatch, capacity?: CapacitySink): Promise<void> {
    let unwritten: PutBatch;
    try {
      unwritten = await writeBatchLossless(this.db, batch, this.options.retry, capacity);
    } catch (err) {
      // The call itself failed (after the SDK's retries): nothing of it is known to be written.
      throw new RecordsNotWrittenError(batch, err);
    }
    if (countItems(unwritten) > 0) throw new RecordsNotWrittenError(unwritten);
  }
}
