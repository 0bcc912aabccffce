import { GroupGateError } from '#core/errors';

export type KnowledgeStoreErrorCode =
  /** An embedding's length differs from the store's dimensions, or the schema was created with other dimensions. */
  | 'dimensions'
  /** An argument breaks the store's contract (empty or over-long id, NUL in an id, duplicate chunk id, bad k). */
  | 'invalid_input'
  /** The database returned a row of an unexpected shape (a schema changed under the store). */
  | 'bad_row';

/** A knowledge-store failure the caller can act on; the database's own failures are SqlClientErrors. */
export class KnowledgeStoreError extends GroupGateError {
  readonly httpStatus = 500;
  constructor(
    readonly code: KnowledgeStoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
