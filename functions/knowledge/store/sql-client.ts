import { GroupGateError } from '#core/errors';

/**
 * The one SQL seam of the knowledge store: the same SQL text runs on PGlite locally (sandbox/knowledge/pglite-sql.ts)
 * and on Aurora PostgreSQL through the RDS Data API (rds-data-sql.ts).
 *
 * The parameter convention both clients implement (so a statement proven on PGlite behaves the same on Aurora):
 * - Parameters are positional, `$1`..`$n`, each a value of `SqlParam`. A parameter is sent typed as the Data API
 *   sends it: a string as `character varying`, an integer as `bigint`, any other number as `double precision`, a
 *   boolean as `boolean`, null untyped. A `string[]` is sent as a PostgreSQL array literal string (`{"a","b"}`).
 * - So every parameter whose SQL type is not text, bigint, double precision or boolean carries an explicit cast in the
 *   SQL text: `$1::text[]`, `$2::vector`, `$3::int[]`, `$4::real[]`. Without it PostgreSQL rejects the statement on
 *   both clients alike ("column is of type vector but expression is of type character varying").
 * - A string must not contain NUL (U+0000): PostgreSQL text cannot hold it, so both clients refuse it with a
 *   SqlClientError('invalid_parameter') instead of each failing its own way. Callers strip it at their boundary.
 * - Statements that return rows are SELECTs (the Data API formats only SELECT results as JSON); a row's values are
 *   JSON-like (strings, numbers, booleans, null; arrays of those), keyed by column name.
 * - Each `$n` should appear once in a statement: the Data API's handling of a named parameter used twice is not
 *   documented, so the store passes a repeated value as two parameters.
 */

export type SqlParam = string | number | boolean | null | readonly string[];

export interface SqlClient {
  /** One statement, positional parameters $1..$n; rows as plain objects keyed by column name. */
  query<T extends Record<string, unknown>>(sql: string, params?: readonly SqlParam[]): Promise<T[]>;
  /** Runs `work` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(work: (tx: SqlClient) => Promise<T>): Promise<T>;
}

export type SqlClientErrorCode =
  /** A parameter cannot be sent: a NUL in a string, a number that is not finite or not a safe integer, a `$n` with no value. */
  | 'invalid_parameter'
  /** The database refused or failed the statement (syntax, constraint, type, connection). */
  | 'query_failed'
  /** The Data API answered with something other than the documented shapes. */
  | 'bad_response'
  /** `transaction` called on a transaction's client: there are no nested transactions (no savepoints). */
  | 'nested_transaction'
  /** A transaction's client used after its transaction ended. */
  | 'transaction_closed';

export class SqlClientError extends GroupGateError {
  readonly httpStatus = 500;
  /** The PostgreSQL SQLSTATE when the client knows it (PGlite does; the Data API only puts it in the message). */
  readonly sqlState: string | undefined;
  constructor(
    readonly code: SqlClientErrorCode,
    message: string,
    options?: { cause?: unknown; sqlState?: string },
  ) {
    super(message, options);
    this.sqlState = options?.sqlState;
  }
}
