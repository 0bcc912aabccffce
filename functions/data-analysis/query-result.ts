/**
 * A query's result as the engine computed it, independent of DuckDB's value classes, so formatting and charts are
 * pure functions of the engine's numbers. Numbers keep the engine's exactness: integers as bigint (SUM of BIGINT is a
 * HUGEINT), DECIMAL as its unscaled integer and scale, FLOAT/DOUBLE as number.
 */
export type Cell =
  | { readonly kind: 'null' }
  | { readonly kind: 'bool'; readonly value: boolean }
  | { readonly kind: 'int'; readonly value: bigint }
  | { readonly kind: 'decimal'; readonly unscaled: bigint; readonly scale: number }
  | { readonly kind: 'float'; readonly value: number }
  /** Everything else (text, dates, timestamps, lists, structs…) as DuckDB renders it. */
  | { readonly kind: 'text'; readonly value: string };

export interface ResultColumn {
  readonly name: string;
  /** DuckDB's type, e.g. `BIGINT`, `DECIMAL(18,2)`, `VARCHAR`. */
  readonly type: string;
}

export interface QueryResult {
  readonly columns: readonly ResultColumn[];
  /** At most the row limit; each row has one cell per column. */
  readonly rows: readonly (readonly Cell[])[];
  /**
   * Rows the query produced: exact when `totalExact`, otherwise a lower bound (counting the rest ran into the time
   * limit after the shown rows were read).
   */
  readonly totalRows: number;
  readonly totalExact: boolean;
}

export const isNumeric = (cell: Cell): boolean =>
  cell.kind === 'int' || cell.kind === 'decimal' || cell.kind === 'float';

/** A numeric cell as a JavaScript number (for charts: precision past 15 digits does not show in a bar). */
export function cellToNumber(cell: Cell): number | undefined {
  switch (cell.kind) {
    case 'int':
      return Number(cell.value);
    case 'float':
      return cell.value;
    case 'decimal':
      return Number(cell.unscaled) / 10 ** cell.scale;
    default:
      return undefined;
  }
}

/** A cell's value written out in full: what the engine holds, no rounding; NULL as `NULL`. */
export function exactText(cell: Cell): string {
  switch (cell.kind) {
    case 'null':
      return 'NULL';
    case 'decimal':
      return decimalText(cell.unscaled, cell.scale);
    default:
      return String(cell.value);
  }
}

/** A DECIMAL's exact text from its unscaled value: (-1234n, 2) → `-12.34`. */
export function decimalText(unscaled: bigint, scale: number): string {
  const negative = unscaled < 0n;
  const digits = (negative ? -unscaled : unscaled).toString().padStart(scale + 1, '0');
  const whole = digits.slice(0, digits.length - scale);
  const fraction = scale > 0 ? `.${digits.slice(digits.length - scale)}` : '';
  return `${negative ? '-' : ''}${whole}${fraction}`;
}
