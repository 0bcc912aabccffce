/**
 * Why a data question could not be answered. Every code is a failure the member can act on (rephrase, ask about
 * less, fix the SQL) or the operator can (a dataset that is not a CSV), so the skill answers with `message` rather
 * than passing the question on to the model, which would guess numbers.
 * - `too_large`: the dataset's file is over the byte limit;
 * - `not_text`: the file is not UTF-8 text (binary, NUL bytes, UTF-16);
 * - `empty`: the file has no header line;
 * - `bad_csv`: DuckDB could not read the file as a table;
 * - `too_many_columns`: the table is wider than the column limit;
 * - `bad_file`: a shared file that is not a CSV or XLSX table, or an XLSX that cannot be read safely (damaged,
 *   encrypted, a zip bomb, a DTD);
 * - `no_sql`: no SQL statement was found (an empty `/sql`, a model reply without a query);
 * - `multiple_statements`: more than one statement (`SELECT 1; DROP TABLE sales`);
 * - `not_select`: one statement, but not a query (INSERT, CREATE, COPY, ATTACH, SET, PRAGMA that is not a query…);
 * - `forbidden`: a query that reaches outside its table (files, URLs, settings), refused by the locked engine;
 * - `sql_error`: the engine rejected the SQL (syntax, unknown column, type error);
 * - `timeout`: the query ran past the time limit and was interrupted;
 * - `out_of_memory`: the query needed more than the engine's memory limit;
 * - `unavailable`: a service the skill relies on did not answer (the dataset's storage, the model).
 */
export type DataAnalysisErrorCode =
  | 'too_large'
  | 'not_text'
  | 'empty'
  | 'bad_csv'
  | 'too_many_columns'
  | 'bad_file'
  | 'no_sql'
  | 'multiple_statements'
  | 'not_select'
  | 'forbidden'
  | 'sql_error'
  | 'timeout'
  | 'out_of_memory'
  | 'unavailable';

/** The one error the data-analysis modules throw; `message` is written to be shown to the member as is. */
export class DataAnalysisError extends Error {
  constructor(
    readonly code: DataAnalysisErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DataAnalysisError';
  }
}
