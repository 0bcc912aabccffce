import {
  BeginTransactionCommand,
  CommitTransactionCommand,
  ExecuteStatementCommand,
  type Field,
  RollbackTransactionCommand,
  type SqlParameter,
} from '@aws-sdk/client-rds-data';
import * as z from '#shared/zod';
import { type SqlClient, SqlClientError, type SqlParam } from './sql-client';
import { scanParameters } from './sql-parameters';
import { toWireParams, type WireParam } from './sql-params';

/**
 * SqlClient over the RDS Data API (Aurora PostgreSQL with the HTTP endpoint enabled), following the parameter
 * convention of sql-client.ts: `$n` becomes the named parameter `:pn`, each value a typed Field (stringValue,
 * longValue, doubleValue, booleanValue, isNull); a string[] goes as the text of a PostgreSQL array literal, which the
 * SQL casts (`$1::text[]`), because the Data API takes no array parameters.
 *
 * Rows: ExecuteStatement asks for `formatRecordsAs: 'JSON'` and parses `formattedRecords` (an array of objects keyed
 * by column label). The Data API formats only SELECT results so; typed `records` (another statement returning rows)
 * are converted when they come with `columnMetadata` and refused otherwise, so such a statement fails loudly rather
 * than losing its rows. A response of neither shape (INSERT, DDL) → [].
 *
 * A transaction is BeginTransaction, statements carrying its transactionId, then CommitTransaction, or
 * RollbackTransaction when `work` throws. The Data API refuses a second statement while one of the same transaction
 * runs, so a transaction's statements are sent one after another even if `work` starts them together. If the
 * rollback itself fails, `work`'s error is still the one thrown: the Data API rolls back a transaction left idle for
 * three minutes.
 *
 * Limits the caller must respect (the Data API's): a request ≤ 4 MiB, a response ≤ 1 MiB, a result row ≤ 64 KB,
 * one statement per call.
 */

export type RdsDataCommand =
  | ExecuteStatementCommand
  | BeginTransactionCommand
  | CommitTransactionCommand
  | RollbackTransactionCommand;

/** What the store needs of RDSDataClient (which satisfies it); tests pass a fake. */
export interface RdsDataSender {
  send(command: RdsDataCommand): Promise<unknown>;
}

export interface RdsDataSqlOptions {
  /** The Aurora cluster's ARN. */
  readonly resourceArn: string;
  /** The Secrets Manager secret with the database user's credentials. */
  readonly secretArn: string;
  readonly database: string;
}

const executeOutputSchema = z.object({
  formattedRecords: z.optional(z.string()),
  records: z.optional(z.array(z.array(z.record(z.string(), z.unknown())))),
  columnMetadata: z.optional(z.array(z.object({ name: z.optional(z.string()), label: z.optional(z.string()) }))),
});
const beginOutputSchema = z.object({ transactionId: z.string().check(z.minLength(1)) });
const jsonRowsSchema = z.array(z.record(z.string(), z.unknown()));

/** The Data API's Field for a wire parameter. */
export function toField(param: WireParam): Field {
  switch (param.kind) {
    case 'string':
      return { stringValue: param.value };
    case 'long':
      return { longValue: param.value };
    case 'double':
      return { doubleValue: param.value };
    case 'boolean':
      return { booleanValue: param.value };
    case 'null':
      return { isNull: true };
  }
}

/** The statement with `:pn` names, and its parameters; refuses what sql-parameters.ts refuses. */
export function toNamedStatement(
  sql: string,
  params: readonly SqlParam[],
): { sql: string; parameters: SqlParameter[] } {
  const wire = toWireParams(params);
  const scan = scanParameters(sql, params.length, (n) => `:p${n}`);
  return { sql: scan.sql, parameters: wire.map((param, i) => ({ name: `p${i + 1}`, value: toField(param) })) };
}

const isRecord = (value: unknown): value is Readonly<Record<string, unknown>> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** A value of the typed `records` form: the same JSON-like value `formattedRecords` would hold. */
function fieldValue(field: Readonly<Record<string, unknown>>): unknown {
  if (field.isNull === true) return null;
  for (const key of ['stringValue', 'longValue', 'doubleValue', 'booleanValue'] as const) {
    if (field[key] !== undefined) return field[key];
  }
  if (isRecord(field.arrayValue)) return arrayValue(field.arrayValue);
  throw new SqlClientError(
    'bad_response',
    `The Data API returned a field of an unsupported kind: ${Object.keys(field).join(', ')}.`,
  );
}

function arrayValue(array: Readonly<Record<string, unknown>>): unknown[] {
  for (const key of ['stringValues', 'longValues', 'doubleValues', 'booleanValues'] as const) {
    const values = array[key];
    if (Array.isArray(values)) return values;
  }
  const nested = array.arrayValues;
  if (Array.isArray(nested) && nested.every(isRecord)) return nested.map(arrayValue);
  throw new SqlClientError('bad_response', 'The Data API returned an array field of an unsupported kind.');
}

/** The rows of an ExecuteStatement response (see the module comment). */
export function rowsOf(output: unknown): Record<string, unknown>[] {
  const parsed = executeOutputSchema.safeParse(output);
  if (!parsed.success) {
    throw new SqlClientError('bad_response', `Unexpected ExecuteStatement response: ${parsed.error.message}`);
  }
  const { formattedRecords, records, columnMetadata } = parsed.data;
  if (formattedRecords !== undefined) {
    let json: unknown;
    try {
      json = JSON.parse(formattedRecords);
    } catch (cause) {
      throw new SqlClientError('bad_response', 'The Data API returned formattedRecords that are not JSON.', { cause });
    }
    const rows = jsonRowsSchema.safeParse(json);
    if (!rows.success) {
      throw new SqlClientError('bad_response', 'The Data API returned formattedRecords that are not an array of rows.');
    }
    return rows.data;
  }
  if (records === undefined) return [];
  const names = (columnMetadata ?? []).map((column) => column.label ?? column.name);
  return records.map((record) => {
    if (record.length !== names.length || names.some((name) => name === undefined)) {
      throw new SqlClientError(
        'bad_response',
        'The Data API returned typed records without column names: statements that return rows must be SELECTs.',
      );
    }
    const row: Record<string, unknown> = {};
    record.forEach((field, i) => {
      row[names[i]!] = fieldValue(field);
    });
    return row;
  });
}

const SQL_STATE = /SQLState: ([0-9A-Z]{5})/;

function queryFailed(cause: unknown): SqlClientError {
  if (cause instanceof SqlClientError) return cause;
  const name = cause instanceof Error ? cause.name : 'Error';
  const message = cause instanceof Error ? cause.message : String(cause);
  const sqlState = SQL_STATE.exec(message)?.[1];
  return new SqlClientError('query_failed', `Data API ${name}: ${message}`, {
    cause,
    ...(sqlState === undefined ? {} : { sqlState }),
  });
}

export class RdsDataSql implements SqlClient {
  /** The transaction's statements, one at a time (the Data API runs one per transaction). */
  private queue: Promise<unknown> = Promise.resolve();
  private ended = false;

  constructor(
    private readonly client: RdsDataSender,
    private readonly options: RdsDataSqlOptions,
    private readonly transactionId?: string,
  ) {}

  async query<T extends Record<string, unknown>>(sql: string, params: readonly SqlParam[] = []): Promise<T[]> {
    const statement = toNamedStatement(sql, params);
    const run = async (): Promise<T[]> => {
      if (this.ended) {
        throw new SqlClientError(
          'transaction_closed',
          'This transaction has ended; use the client it was started from.',
        );
      }
      let output: unknown;
      try {
        output = await this.client.send(
          new ExecuteStatementCommand({
            ...this.target(),
            sql: statement.sql,
            parameters: statement.parameters,
            formatRecordsAs: 'JSON',
            ...(this.transactionId === undefined ? {} : { transactionId: this.transactionId }),
          }),
        );
      } catch (error) {
        throw queryFailed(error);
      }
      // Rows are checked to be objects; their columns' types are the caller's SELECT to know.
      return rowsOf(output) as T[];
    };
    if (this.transactionId === undefined) return run();
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  async transaction<T>(work: (tx: SqlClient) => Promise<T>): Promise<T> {
    if (this.transactionId !== undefined) {
      throw new SqlClientError(
        'nested_transaction',
        'A transaction cannot start another: there are no nested transactions.',
      );
    }
    let begun: unknown;
    try {
      begun = await this.client.send(new BeginTransactionCommand(this.target()));
    } catch (error) {
      throw queryFailed(error);
    }
    const parsed = beginOutputSchema.safeParse(begun);
    if (!parsed.success) throw new SqlClientError('bad_response', 'BeginTransaction returned no transactionId.');
    const transactionId = parsed.data.transactionId;
    const tx = new RdsDataSql(this.client, this.options, transactionId);
    let result: T;
    try {
      result = await work(tx);
      await tx.queue; // a statement `work` started but did not await still belongs to the transaction
    } catch (error) {
      tx.ended = true;
      await tx.queue;
      await this.client
        .send(new RollbackTransactionCommand({ ...this.credentials(), transactionId }))
        .catch(() => undefined); // work's error is the one that matters; an orphaned transaction times out
      throw error;
    }
    tx.ended = true;
    try {
      await this.client.send(new CommitTransactionCommand({ ...this.credentials(), transactionId }));
    } catch (error) {
      throw queryFailed(error);
    }
    return result;
  }

  private credentials(): { resourceArn: string; secretArn: string } {
    return { resourceArn: this.options.resourceArn, secretArn: this.options.secretArn };
  }

  private target(): { resourceArn: string; secretArn: string; database: string } {
    return { ...this.credentials(), database: this.options.database };
  }
}
