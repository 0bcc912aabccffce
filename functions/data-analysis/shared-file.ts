import type { SkillFile } from '#core/skills/remote-protocol';
import { DataAnalysisError } from './data-analysis-error';
import { type DatasetSpec, isDatasetName } from './dataset';
import type { DataLimits } from './limits';
import { isXlsx, xlsxToCsv } from './xlsx-to-csv';

/**
 * A file shared in the chat as the data skill's one table (issue 17): a CSV as it is, an XLSX's first sheet converted
 * to CSV (`xlsx-to-csv.ts`); then the same engine, limits and guards as a registered dataset (`engine.ts`). The
 * kind is told by the name's extension and checked against the bytes: a `.xlsx` must be a zip archive, and a `.csv`
 * goes through `checkCsv` like any dataset (binary junk is `not_text`).
 */

const XLSX_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
type TableKind = 'csv' | 'xlsx';

/** SQL words a file name must not become as a bare table name (`order.csv` → `order_data`). */
const RESERVED = new Set([
  'all',
  'and',
  'as',
  'by',
  'case',
  'from',
  'group',
  'having',
  'in',
  'join',
  'limit',
  'not',
  'null',
  'on',
  'or',
  'order',
  'select',
  'table',
  'union',
  'where',
  'with',
]);

/**
 * A file's kind by its name's extension or its media type; a file with no extension at all (WeCom names none) by
 * its bytes: a zip archive is taken for an XLSX, anything else for a CSV (`checkCsv` then refuses what is not text).
 */
function kindOf(file: SkillFile): TableKind | undefined {
  const extension = /\.([a-z0-9]+)$/i.exec(file.name)?.[1]?.toLowerCase();
  if (extension === 'csv' || file.mediaType === 'text/csv') return 'csv';
  if (extension === 'xlsx' || file.mediaType === XLSX_TYPE) return 'xlsx';
  if (extension !== undefined) return undefined;
  return isXlsx(Buffer.from(file.data.slice(0, 8), 'base64')) ? 'xlsx' : 'csv';
}

/** The first shared file that is a table, or why none is. */
export function pickTableFile(
  files: readonly SkillFile[],
): { readonly file: SkillFile; readonly kind: TableKind } | { readonly refused: string } {
  for (const file of files) {
    const kind = kindOf(file);
    if (kind !== undefined) return { file, kind };
  }
  const names = files.map((file) => file.name).join(', ');
  return {
    refused: `The data skill reads a table from a CSV or XLSX file, and ${names} is not one: save the sheet as .csv or .xlsx and share it again with your question.`,
  };
}

/** The SQL table name a file gets: its name without the extension, lower case, `[a-z][a-z0-9_]*`. */
export function tableNameOf(fileName: string): string {
  const base = fileName
    .replace(/\.[^.]*$/, '')
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 50);
  const named = base === '' ? 'shared_file' : /^[a-z]/.test(base) ? base : `t_${base}`;
  const table = RESERVED.has(named) ? `${named}_data` : named;
  return isDatasetName(table) ? table : 'shared_file';
}

/**
 * The shared file as a dataset: its bytes decoded from the request, an XLSX converted when the engine loads it,
 * within the limits at that moment (`limitsNow`: the load time is what is left of the request's deadline).
 */
export function sharedFileDataset(
  picked: { readonly file: SkillFile; readonly kind: TableKind },
  limitsNow: () => DataLimits,
): DatasetSpec {
  const { file, kind } = picked;
  const name = tableNameOf(file.name);
  return {
    name,
    title: `${file.name} (shared in the chat)`,
    shownAs: file.name,
    async load(maxBytes) {
      const bytes = Buffer.from(file.data, 'base64');
      if (kind === 'csv') return bytes;
      if (!isXlsx(bytes)) {
        throw new DataAnalysisError(
          'bad_file',
          `${file.name} is not an XLSX workbook (not a zip archive): save it as .xlsx or .csv and share it again.`,
        );
      }
      const limits = limitsNow();
      return xlsxToCsv(file.name, bytes, {
        maxCsvBytes: maxBytes,
        maxColumns: limits.maxColumns,
        timeMs: limits.loadTimeMs,
      });
    },
  };
}
