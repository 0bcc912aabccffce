import { MAX_SKILL_REPLY_CHARS } from '#core/skills/remote-protocol';
import { type Cell, decimalText, isNumeric, type QueryResult } from './query-result';

/**
 * The data skill's reply, built only from the engine's result (no model prose, so no number in it is a guess):
 * a one-line summary, the rows as a Markdown table, and the SQL that ran in a ```sql block so members can check it.
 *
 * Numbers: integers in full; DECIMAL to its own scale, at most 4 places; FLOAT/DOUBLE to at most 4 decimal places
 * (trailing zeros dropped), and to 4 significant digits below 1 so a small share does not round to 0; no thousands
 * separators (members copy the values into spreadsheets). NULL is `—`. A cell is cut at 60 characters, line breaks
 * become spaces and `|` is escaped, so one value cannot break the table. Numeric columns are right-aligned.
 * The whole reply stays within `maxChars` (protocol v1's 4,000): the SQL shown is capped, then rows are dropped from
 * the end with the summary saying how many are shown.
 */

export const MAX_CELL_CHARS = 60;
/** The SQL shown, at most; a longer one is cut with a note (it ran in full). */
export const MAX_SHOWN_SQL_CHARS = 1500;
const NULL_TEXT = '—';
const FLOAT_PLACES = 4;

export interface FormatResultInput {
  /** The dataset the query ran on, named in the summary. */
  readonly table: string;
  /** The SQL that ran. */
  readonly sql: string;
  readonly result: QueryResult;
}

export function formatResult(input: FormatResultInput, maxChars: number = MAX_SKILL_REPLY_CHARS): string {
  const { table, result } = input;
  const sqlBlock = fencedSql(input.sql);
  const columnsNumeric = result.columns.map((_, i) => {
    const cells = result.rows.map((row) => row[i]).filter((cell) => cell !== undefined && cell.kind !== 'null');
    return cells.length > 0 && cells.every((cell) => cell !== undefined && isNumeric(cell));
  });
  const header = tableLine(result.columns.map((c) => cellText(c.name)));
  const rule = tableLine(columnsNumeric.map((numeric) => (numeric ? '---:' : '---')));
  const lines = result.rows.map((row) => tableLine(row.map((cell) => cellText(formatCell(cell)))));

  const compose = (shown: number): string => {
    const summary = summaryLine(table, result, shown);
    if (shown === 0) return [summary, sqlBlock].join('\n\n');
    return [summary, [header, rule, ...lines.slice(0, shown)].join('\n'), sqlBlock].join('\n\n');
  };

  // Longest prefix of rows that fits: the reply grows with each row, so the first that overflows ends the search.
  let shown = 0;
  let reply = compose(0);
  for (let n = 1; n <= lines.length; n++) {
    const candidate = compose(n);
    if (candidate.length > maxChars) break;
    shown = n;
    reply = candidate;
  }
  if (shown === 0 && lines.length > 0) {
    const rows = `${count(result.totalRows)}${result.totalExact ? '' : '+'} ${result.totalRows === 1 ? 'row' : 'rows'}`;
    reply = [
      `${rows} from ${table}, but ${result.columns.length} columns are too wide for one message: select fewer columns.`,
      sqlBlock,
    ].join('\n\n');
  }
  return reply.length > maxChars ? `${reply.slice(0, maxChars - 1)}…` : reply;
}

function summaryLine(table: string, result: QueryResult, shown: number): string {
  const { totalRows, totalExact } = result;
  if (totalRows === 0) return `No rows from ${table}.`;
  const total = count(totalRows);
  const rows = totalRows === 1 ? 'row' : 'rows';
  if (!totalExact) {
    return `First ${count(shown)} of at least ${total} rows from ${table} (counting stopped at the time limit).`;
  }
  if (shown === totalRows) return `${total} ${rows} from ${table}.`;
  const note = shown < result.rows.length ? ' (shortened to fit one message)' : '';
  return `First ${count(shown)} of ${total} ${rows} from ${table}${note}.`;
}

const count = (n: number): string => n.toLocaleString('en-US');

/** A Markdown table row from already escaped cell texts. */
const tableLine = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;

/** A value as one table cell: one line, at most `MAX_CELL_CHARS`, `|` escaped; empty text stays visible. */
export function cellText(text: string): string {
  const line = text.replace(/[\r\n\t]+/g, ' ');
  const cut = [...line].length > MAX_CELL_CHARS ? `${[...line].slice(0, MAX_CELL_CHARS - 1).join('')}…` : line;
  return cut.replaceAll('\\', '\\\\').replaceAll('|', '\\|') || ' ';
}

/** A cell's display text (see the module's number rules). */
export function formatCell(cell: Cell): string {
  switch (cell.kind) {
    case 'null':
      return NULL_TEXT;
    case 'bool':
      return String(cell.value);
    case 'int':
      return cell.value.toString();
    case 'decimal':
      return formatDecimal(cell.unscaled, cell.scale);
    case 'float':
      return formatFloat(cell.value);
    case 'text':
      return cell.value;
  }
}

/** A DECIMAL rounded half away from zero to at most 4 places, keeping its own scale below that. */
export function formatDecimal(unscaled: bigint, scale: number): string {
  if (scale <= FLOAT_PLACES) return decimalText(unscaled, scale);
  const drop = 10n ** BigInt(scale - FLOAT_PLACES);
  const magnitude = unscaled < 0n ? -unscaled : unscaled;
  const rounded = (magnitude + drop / 2n) / drop;
  return decimalText(unscaled < 0n ? -rounded : rounded, FLOAT_PLACES);
}

/** A FLOAT/DOUBLE: at most 4 decimal places without trailing zeros; 4 significant digits below 1. */
export function formatFloat(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (value === 0) return '0';
  if (Math.abs(value) < 1) return String(Number(value.toPrecision(FLOAT_PLACES)));
  const fixed = value.toFixed(FLOAT_PLACES);
  // toFixed switches to exponent notation from 1e21 on; that text has no trailing zeros to trim.
  return fixed.includes('e') ? fixed : fixed.replace(/\.?0+$/, '');
}

/** The SQL in a code block whose fence is longer than any backtick run inside it, cut past `MAX_SHOWN_SQL_CHARS`. */
function fencedSql(sql: string): string {
  const shown =
    sql.length > MAX_SHOWN_SQL_CHARS
      ? `${sql.slice(0, MAX_SHOWN_SQL_CHARS)}\n-- … ${sql.length - MAX_SHOWN_SQL_CHARS} more characters not shown`
      : sql;
  const longestRun = Math.max(0, ...[...shown.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(Math.max(3, longestRun + 1));
  return `${fence}sql\n${shown}\n${fence}`;
}
