/**
 * What one data question may cost. The engine is a fresh in-memory DuckDB per question inside the skill's own
 * process (a Lambda function with a fixed memory size), so every resource a member's SQL can consume is capped.
 */
export interface DataLimits {
  /** Largest dataset file read, bytes; a larger one is `too_large` before DuckDB sees it. @default 50 MiB */
  readonly maxCsvBytes: number;
  /** Rows shown; one more is fetched to tell that there are more. @default 200 */
  readonly maxRows: number;
  /** Cells (rows × columns) shown: a wide result shows fewer rows. @default 10_000 */
  readonly maxCells: number;
  /** How long a member's (or the model's) query may run before it is interrupted, ms. @default 5_000 */
  readonly queryTimeMs: number;
  /** How long reading the dataset into the engine may take, ms. @default 15_000 */
  readonly loadTimeMs: number;
  /** DuckDB's `memory_limit` (the engine never spills to disk, so a query over it fails). @default '256MB' */
  readonly memoryLimit: string;
  /** Columns a table may have (its header line, an XLSX sheet's widest row); more is `too_many_columns`. @default 256 */
  readonly maxColumns: number;
}

export const DEFAULT_DATA_LIMITS: DataLimits = Object.freeze({
  maxCsvBytes: 50 * 1024 * 1024,
  maxRows: 200,
  maxCells: 10_000,
  queryTimeMs: 5_000,
  loadTimeMs: 15_000,
  memoryLimit: '256MB',
  maxColumns: 256,
});

/** The defaults with the given overrides. */
export function dataLimits(overrides: Partial<DataLimits> = {}): DataLimits {
  return { ...DEFAULT_DATA_LIMITS, ...overrides };
}
