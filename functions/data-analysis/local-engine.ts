import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type DuckDBConnection,
  DuckDBDecimalValue,
  DuckDBInstance,
  type DuckDBResult,
  DuckDBTypeId,
  type DuckDBValue,
  StatementType,
} from '@duckdb/node-api';
import { DataAnalysisError } from './data-analysis-error';
import { checkCsv, isDatasetName } from './dataset';
import { type DataLimits, dataLimits } from './limits';
import type { Cell, QueryResult, ResultColumn } from './query-result';

/**
 * The engine itself, in the process that runs it: engine.ts starts that process (a child the parent kills at its time
 * or memory limit) and calls `openLocalDataset` there. Nothing else should call it: in-process, a single expensive
 * expression (`list_resize([1], 100000000)`, `levenshtein` of long strings) ignores both `interrupt()` and
 * `memory_limit`.
 *
 * The embedded engine of the data skill: one fresh in-memory DuckDB per question holding one table, a private copy of
 * one dataset, locked down before any member's or model's SQL runs.
 *
 * Isolation, in order:
 * 1. The instance starts with the resource caps: `memory_limit`, one thread, no temp directory (nothing spills to
 *    disk: a query over the limit fails as `out_of_memory`), no extension auto-install/auto-load, no community
 *    extensions, no persistent secrets.
 * 2. The dataset's bytes (checked by `checkCsv`) are written to a private temporary directory (mode 0700, file 0600),
 *    read with `read_csv(header = true, sample_size = -1)` (types from every row, not a sample), and deleted.
 * 3. Then `enable_external_access = false` (no file, URL, ATTACH, COPY, INSTALL/LOAD: `read_csv('/etc/passwd')` and
 *    `FROM 'file.csv'` fail), `disabled_filesystems = 'LocalFileSystem'` (a second wall, should the first have a
 *    gap) and `lock_configuration = true` (no later `SET` can undo either).
 * 4. Each query must be exactly one statement (DuckDB's own parser splits them: `extractStatements`) whose prepared
 *    type is SELECT (`statementType`): INSERT, CREATE, COPY, ATTACH, SET, PRAGMA-that-writes, EXPLAIN… are refused
 *    before they run, whatever a regular expression would have made of them.
 * 5. It runs under a timer that interrupts the connection (`timeout`); at most `maxRows` rows (fewer for wide
 *    results: `maxCells`) are converted, the rest only counted while time remains.
 * Queries on one dataset run one at a time (one connection; an interrupt must hit only the query it was meant for).
 */

export interface LoadedDataset {
  /** The table's name, as SQL sees it. */
  readonly table: string;
  /** Its columns with DuckDB's types (`DESCRIBE`), in file order. */
  readonly columns: readonly ResultColumn[];
  readonly rowCount: number;
  /**
   * Runs one read-only query on the table under the limits; `timeMs` replaces `queryTimeMs` for this query (a caller
   * with a deadline gives what is left of it).
   * @throws DataAnalysisError `no_sql`, `multiple_statements`, `not_select`, `forbidden`, `sql_error`, `timeout`,
   *   `out_of_memory`
   */
  query(sql: string, options?: { readonly timeMs?: number }): Promise<QueryResult>;
  /** Frees the engine; idempotent. Queries after it fail. */
  close(): void;
}

export interface OpenDatasetOptions {
  /** The table name (a dataset name: `[a-z][a-z0-9_]*`). */
  readonly table: string;
  /** The dataset file's bytes; checked with `checkCsv` first. */
  readonly bytes: Uint8Array;
  readonly limits?: Partial<DataLimits>;
}

/**
 * Loads one dataset into a fresh, locked engine.
 * @throws DataAnalysisError `too_large`, `not_text`, `empty` (the file), `bad_csv`, `timeout`, `out_of_memory` (reading it)
 */
export async function openLocalDataset(options: OpenDatasetOptions): Promise<LoadedDataset> {
  const { table } = options;
  if (!isDatasetName(table)) throw new RangeError(`not a dataset name: ${JSON.stringify(table)}`);
  const limits = dataLimits(options.limits);
  const csv = checkCsv(options.bytes, limits.maxCsvBytes, limits.maxColumns);
  const instance = await createInstance(limits.memoryLimit);
  let connection: DuckDBConnection | undefined;
  try {
    connection = await instance.connect();
    await loadTable(connection, table, csv, limits.loadTimeMs);
    await lockDown(connection);
    const columns = await describeTable(connection, table);
    const rowCount = await countRows(connection, table);
    return datasetOn(instance, connection, { table, columns, rowCount, limits });
  } catch (error) {
    connection?.closeSync();
    instance.closeSync();
    throw error;
  }
}

async function createInstance(memoryLimit: string): Promise<DuckDBInstance> {
  try {
    return await DuckDBInstance.create(':memory:', {
      memory_limit: memoryLimit,
      threads: '1',
      temp_directory: '',
      max_temp_directory_size: '0B',
      autoinstall_known_extensions: 'false',
      autoload_known_extensions: 'false',
      allow_community_extensions: 'false',
      allow_persistent_secrets: 'false',
    });
  } catch (cause) {
    // The only setting an operator chooses is the memory limit; DuckDB names no setting in its message.
    throw new RangeError(`DuckDB refused its settings (is memory limit ${JSON.stringify(memoryLimit)} valid?)`, {
      cause,
    });
  }
}

async function loadTable(connection: DuckDBConnection, table: string, csv: Uint8Array, timeMs: number): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'groupgate-data-'));
  try {
    const file = join(dir, `${table}.csv`);
    await writeFile(file, csv, { mode: 0o600, flag: 'wx' });
    const sql = `CREATE TABLE ${quoteIdentifier(table)} AS SELECT * FROM read_csv(${quoteLiteral(file)}, header = true, sample_size = -1)`;
    await withTimeLimit(connection, timeMs, () => connection.run(sql)).catch((error: unknown) => {
      throw loadError(error, timeMs);
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function lockDown(connection: DuckDBConnection): Promise<void> {
  await connection.run('SET enable_external_access = false');
  await connection.run("SET disabled_filesystems = 'LocalFileSystem'");
  await connection.run('SET lock_configuration = true');
}

async function describeTable(connection: DuckDBConnection, table: string): Promise<ResultColumn[]> {
  const reader = await connection.runAndReadAll(`DESCRIBE ${quoteIdentifier(table)}`);
  return reader.getRowsJS().map(([name, type]) => ({ name: String(name), type: String(type) }));
}

async function countRows(connection: DuckDBConnection, table: string): Promise<number> {
  const reader = await connection.runAndReadAll(`SELECT count(*) FROM ${quoteIdentifier(table)}`);
  return Number(reader.getRowsJS()[0]?.[0] ?? 0);
}

function datasetOn(
  instance: DuckDBInstance,
  connection: DuckDBConnection,
  loaded: { table: string; columns: ResultColumn[]; rowCount: number; limits: DataLimits },
): LoadedDataset {
  const { table, columns, rowCount, limits } = loaded;
  let closed = false;
  // One query at a time: the next starts when the previous settled, however it ended.
  let last: Promise<unknown> = Promise.resolve();
  return {
    table,
    columns,
    rowCount,
    query(sql, options = {}) {
      const run = last.then(
        () => runQuery(),
        () => runQuery(),
      );
      last = run.catch(() => undefined);
      return run;

      async function runQuery(): Promise<QueryResult> {
        if (closed) throw new Error(`the engine of ${table} is closed`);
        const queryTimeMs = options.timeMs ?? limits.queryTimeMs;
        return runReadOnly(connection, sql, table, { ...limits, queryTimeMs });
      }
    },
    close() {
      if (closed) return;
      closed = true;
      connection.closeSync();
      instance.closeSync();
    },
  };
}

async function runReadOnly(
  connection: DuckDBConnection,
  sql: string,
  table: string,
  limits: DataLimits,
): Promise<QueryResult> {
  if (isBlankSql(sql)) throw new DataAnalysisError('no_sql', 'There is no SQL to run: write one SELECT query.');
  return withTimeLimit(connection, limits.queryTimeMs, async (expired) => {
    const extracted = await connection.extractStatements(sql).catch((error: unknown) => {
      throw engineError(error, table);
    });
    if (extracted.count > 1 && /\bpivot\b/i.test(sql)) {
      // DuckDB expands a PIVOT without an IN list into a CREATE TYPE (the column's distinct values) plus the query:
      // that CREATE is refused like any other, so the member is told how to write it as one SELECT instead.
      throw new DataAnalysisError(
        'multiple_statements',
        `DuckDB runs that PIVOT as ${extracted.count} statements (it first creates a type from the column's values), and only one SELECT can run here: list the values, as in \`PIVOT ${table} ON col IN ('a', 'b') USING sum(x)\`, or use GROUP BY.`,
      );
    }
    if (extracted.count > 1) {
      throw new DataAnalysisError(
        'multiple_statements',
        `That is ${extracted.count} SQL statements; only one SELECT query can run at a time.`,
      );
    }
    const prepared = await extracted.prepare(0).catch((error: unknown) => {
      throw engineError(error, table);
    });
    try {
      if (prepared.statementType !== StatementType.SELECT) {
        const kind = StatementType[prepared.statementType] ?? 'unknown';
        throw new DataAnalysisError(
          'not_select',
          `Only a SELECT query can run here, and this is a ${kind} statement: the data is read-only.`,
        );
      }
      const result = await prepared.stream().catch((error: unknown) => {
        throw engineError(error, table);
      });
      return await readLimited(result, limits, expired, table);
    } finally {
      prepared.destroySync();
    }
  }).catch((error: unknown) => {
    if (error instanceof TimeLimitExceeded) {
      throw new DataAnalysisError(
        'timeout',
        `The query ran longer than ${seconds(limits.queryTimeMs)} and was stopped: ask about less, or aggregate.`,
        { cause: error.cause },
      );
    }
    throw error;
  });
}

/**
 * Converts the first rows (at most `maxRows`, and at most `maxCells` cells) and counts the rest. Counting stops,
 * with the count so far as a lower bound (`totalExact: false`), if time runs out after the shown rows were read: the
 * member still gets them. Time running out before that is a timeout.
 */
async function readLimited(
  result: DuckDBResult,
  limits: DataLimits,
  expired: () => boolean,
  table: string,
): Promise<QueryResult> {
  const columns: ResultColumn[] = [];
  for (let i = 0; i < result.columnCount; i++) {
    columns.push({ name: result.columnName(i), type: result.columnType(i).toString() });
  }
  const typeIds = columns.map((_, i) => result.columnTypeId(i));
  const shown = Math.max(1, Math.min(limits.maxRows, Math.floor(limits.maxCells / Math.max(1, columns.length))));
  const rows: Cell[][] = [];
  let total = 0;
  for (;;) {
    let chunk: Awaited<ReturnType<DuckDBResult['fetchChunk']>>;
    try {
      // An interrupt that fired between two fetches hit nothing: the next fetch would run on unbounded.
      if (expired()) throw new TimeLimitExceeded(undefined);
      chunk = await result.fetchChunk();
    } catch (error) {
      if (expired() && total >= shown) return { columns, rows, totalRows: total, totalExact: false };
      throw error instanceof TimeLimitExceeded ? error : engineError(error, table);
    }
    if (chunk === null || chunk.rowCount === 0) {
      // An interrupted stream ends like a finished one: once the timer fired, the end proves nothing.
      if (!expired()) break;
      if (total >= shown) return { columns, rows, totalRows: total, totalExact: false };
      throw new TimeLimitExceeded(undefined);
    }
    for (let row = 0; row < chunk.rowCount && rows.length < shown; row++) {
      rows.push(chunk.getRowValues(row).map((value, column) => toCell(value, typeIds[column])));
    }
    total += chunk.rowCount;
  }
  return { columns, rows, totalRows: total, totalExact: true };
}

const FLOAT_TYPES: ReadonlySet<DuckDBTypeId> = new Set([DuckDBTypeId.FLOAT, DuckDBTypeId.DOUBLE]);

/** One engine value as a `Cell`; numbers keep their exactness, everything else is DuckDB's own rendering. */
export function toCell(value: DuckDBValue, typeId: DuckDBTypeId | undefined): Cell {
  if (value === null) return { kind: 'null' };
  if (typeof value === 'boolean') return { kind: 'bool', value };
  if (typeof value === 'bigint') return { kind: 'int', value };
  if (typeof value === 'number') {
    if (typeId !== undefined && FLOAT_TYPES.has(typeId)) return { kind: 'float', value };
    return Number.isInteger(value) ? { kind: 'int', value: BigInt(value) } : { kind: 'float', value };
  }
  if (typeof value === 'string') return { kind: 'text', value };
  if (value instanceof DuckDBDecimalValue) return { kind: 'decimal', unscaled: value.value, scale: value.scale };
  return { kind: 'text', value: String(value) };
}

/** Thrown inside `withTimeLimit` when the timer interrupted the work; carries what the engine threw. */
class TimeLimitExceeded extends Error {
  constructor(cause: unknown) {
    super('time limit exceeded', { cause });
  }
}

/**
 * Runs `work` with a timer that interrupts the connection after `ms`; an error once the timer fired is a
 * `TimeLimitExceeded` (DuckDB reports it as "INTERRUPT Error", or as whatever step it cut short). `expired` lets the
 * work stop between steps, since an interrupt between two calls is lost.
 */
async function withTimeLimit<T>(
  connection: DuckDBConnection,
  ms: number,
  work: (expired: () => boolean) => Promise<T>,
): Promise<T> {
  let fired = false;
  const timer = setTimeout(() => {
    fired = true;
    connection.interrupt();
  }, ms);
  try {
    return await work(() => fired);
  } catch (error) {
    if (error instanceof TimeLimitExceeded) throw error;
    // Once the timer fired, an engine failure is the interrupt's doing, whatever step it cut short.
    const cutShort = !(error instanceof DataAnalysisError) || error.code === 'timeout' || error.code === 'sql_error';
    if (fired && cutShort) throw new TimeLimitExceeded(error);
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

function loadError(error: unknown, timeMs: number): DataAnalysisError {
  if (error instanceof TimeLimitExceeded) {
    return new DataAnalysisError('timeout', `Reading the dataset took longer than ${seconds(timeMs)}.`, {
      cause: error.cause,
    });
  }
  const message = messageOf(error);
  if (message.startsWith('Out of Memory Error')) {
    return new DataAnalysisError('out_of_memory', "The dataset does not fit in the engine's memory limit.", {
      cause: error,
    });
  }
  return new DataAnalysisError('bad_csv', `DuckDB could not read the dataset as a CSV table: ${brief(message)}`, {
    cause: error,
  });
}

/** An engine error of a member's or the model's query, by DuckDB's error class (the message's first words). */
function engineError(error: unknown, table: string): DataAnalysisError {
  const message = messageOf(error).replace(/^Failed to extract statements: /, '');
  if (message.startsWith('INTERRUPT Error')) {
    return new DataAnalysisError('timeout', 'The query was interrupted.', { cause: error });
  }
  if (message.startsWith('Out of Memory Error')) {
    return new DataAnalysisError(
      'out_of_memory',
      "The query needs more than the engine's memory limit: ask about less, or aggregate.",
      { cause: error },
    );
  }
  if (message.startsWith('Permission Error') || message.includes('the configuration has been locked')) {
    return new DataAnalysisError(
      'forbidden',
      `The query reaches outside the dataset (files, URLs, extensions or settings), which is not allowed: only the table ${table} can be queried.`,
      { cause: error },
    );
  }
  return new DataAnalysisError('sql_error', `DuckDB could not run the SQL: ${brief(message)}`, { cause: error });
}

/** An error's message; duck-typed, since the native binding's errors may come from another realm than `Error`. */
const messageOf = (error: unknown): string =>
  typeof error === 'object' && error !== null && 'message' in error && typeof error.message === 'string'
    ? error.message
    : String(error);

/** At most a few lines of an engine message (DuckDB adds the SQL with a caret: useful, but not all of it). */
function brief(message: string): string {
  const lines = message.split('\n').filter((line) => line.trim() !== '');
  const text = lines.slice(0, 4).join('\n');
  return text.length > 600 ? `${text.slice(0, 599)}…` : text;
}

const seconds = (ms: number): string => `${Number((ms / 1000).toFixed(1))} s`;

/** True when `sql` has no statement at all: only white space, comments and semicolons. */
export function isBlankSql(sql: string): boolean {
  return (
    sql
      .replace(/\/\*[\s\S]*?(\*\/|$)/g, ' ')
      .replace(/--[^\n]*/g, ' ')
      .replace(/[;\s]+/g, '') === ''
  );
}

const quoteIdentifier = (name: string): string => `"${name.replaceAll('"', '""')}"`;
const quoteLiteral = (text: string): string => `'${text.replaceAll("'", "''")}'`;
