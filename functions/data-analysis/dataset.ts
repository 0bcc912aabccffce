import { DataAnalysisError } from './data-analysis-error';

/**
 * An operator-registered dataset: one CSV file the data skill answers questions about. The file is read anew for
 * each question (`load`), so replacing the object in S3 (or the sandbox's file) takes effect without a restart.
 */
export interface DatasetSpec {
  /** The SQL table name members and the model query: lower case `[a-z][a-z0-9_]*`, at most 63 characters. */
  readonly name: string;
  /** Shown in the dataset list, e.g. "Sales orders 2024". */
  readonly title: string;
  /** What the rows are, shown in the list and given to the model with the columns. */
  readonly description?: string;
  /** How messages about a file that cannot be used name it. @default `Dataset <name>` */
  readonly shownAs?: string;
  /** The file's bytes. Implementations stop reading past the byte limit they are given (`too_large`). */
  load(maxBytes: number): Promise<Uint8Array>;
}

/** A dataset name as a plain, unquoted SQL identifier the model can write without quoting. */
export const DATASET_NAME_PATTERN = /^[a-z][a-z0-9_]{0,62}$/;

export function isDatasetName(name: string): boolean {
  return DATASET_NAME_PATTERN.test(name);
}

const NUL = 0;
const UTF8_BOM = [0xef, 0xbb, 0xbf] as const;

/**
 * Checks a dataset file before DuckDB reads it, so a wrong file is named for what it is instead of surfacing as a
 * confusing parse error (or a half-read table): over `maxBytes` (`too_large`), not UTF-8 text (`not_text`: NUL bytes
 * mean binary data or UTF-16; any invalid UTF-8 sequence means binary junk or a legacy encoding such as GBK), no
 * header line (`empty`), a header naming more than `maxColumns` columns (`too_many_columns`). Returns the bytes
 * without a UTF-8 byte-order mark (spreadsheet exports add one), so it cannot end up in the first column's name.
 * @throws DataAnalysisError
 */
export function checkCsv(bytes: Uint8Array, maxBytes: number, maxColumns = Number.POSITIVE_INFINITY): Uint8Array {
  if (bytes.byteLength > maxBytes) {
    throw new DataAnalysisError(
      'too_large',
      `The dataset file is ${formatBytes(bytes.byteLength)}, over the limit of ${formatBytes(maxBytes)}.`,
    );
  }
  if (bytes.includes(NUL)) {
    throw new DataAnalysisError(
      'not_text',
      'The dataset file is not text: it contains NUL bytes (binary data, or UTF-16). Save it as a UTF-8 CSV.',
    );
  }
  const body = hasBom(bytes) ? bytes.subarray(UTF8_BOM.length) : bytes;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch (cause) {
    throw new DataAnalysisError(
      'not_text',
      'The dataset file is not UTF-8 text (binary data, or another encoding such as GBK). Save it as a UTF-8 CSV.',
      { cause },
    );
  }
  const firstLine = text.split(/\r?\n/, 1)[0] ?? '';
  if (firstLine.trim() === '') {
    throw new DataAnalysisError(
      'empty',
      'The dataset file has no header line: a CSV must start with a line naming its columns.',
    );
  }
  const columns = headerFieldCount(firstLine);
  if (columns > maxColumns) {
    throw new DataAnalysisError(
      'too_many_columns',
      `The table has ${columns} columns, more than the limit of ${maxColumns}: keep the columns you ask about.`,
    );
  }
  return body;
}

/**
 * Fields of a header line: separators outside double quotes, plus one. The separator is the most frequent of `,`,
 * `;`, tab and `|` (DuckDB sniffs it the same way), so a semicolon CSV is not counted as one column. A quoted header
 * spanning lines is counted up to the line's end: a lower bound, which only ever lets DuckDB decide.
 */
function headerFieldCount(line: string): number {
  const counts = new Map<string, number>();
  let quoted = false;
  for (const ch of line) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && (ch === ',' || ch === ';' || ch === '\t' || ch === '|')) {
      counts.set(ch, (counts.get(ch) ?? 0) + 1);
    }
  }
  return Math.max(0, ...counts.values()) + 1;
}

function hasBom(bytes: Uint8Array): boolean {
  return UTF8_BOM.every((byte, i) => bytes[i] === byte);
}

/** A byte count for a message: `812 bytes`, `3.4 KiB`, `50 MiB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  const units = ['KiB', 'MiB', 'GiB'] as const;
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${Number(value.toFixed(1))} ${units[unit]}`;
}
