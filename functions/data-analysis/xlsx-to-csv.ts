import { type Deadline, withDeadline } from '#knowledge/extract/deadline';
import { DocumentRejected } from '#knowledge/extract/document-rejected';
import { resolveExtractLimits } from '#knowledge/extract/extract-limits';
import { inflateZipEntry, readZipDirectory, ZIP_MAGIC, type ZipEntry } from '#knowledge/extract/read-zip';
import { decodeEntities, hasDoctype } from '#knowledge/extract/xml-entities';
import { DataAnalysisError } from './data-analysis-error';
import { formatBytes } from './dataset';

/**
 * The first worksheet of an XLSX workbook as UTF-8 CSV, for the data skill (a spreadsheet shared in the chat), with
 * no spreadsheet library: the zip is read by the knowledge extractor's defensive reader (central directory judged
 * before anything is inflated, inflation capped at each entry's declared size: `#knowledge/extract/read-zip`), only
 * the workbook's XML parts are inflated, and a part declaring a DTD or an entity is refused before it is read.
 *
 * What each cell becomes:
 * - shared strings (`t="s"`) and inline strings (`t="inlineStr"`): their text, rich-text runs joined, phonetic
 *   guides (`<rPh>`) left out; formula results that are text (`t="str"`): that text;
 * - numbers: the stored value as written (`1.5`, `1E-3`); DuckDB types the column;
 * - booleans (`t="b"`): `true` / `false`;
 * - errors (`t="e"`, `#DIV/0!`): empty, so one bad cell does not make a number column text;
 * - empty or absent cells: empty fields (SQL NULL); rows with no cell at all are left out;
 * - dates: Excel stores them as numbers (days since 1899-12-30, the fraction is the time of day) and only the
 *   cell's style says "date": they arrive as those numbers. `DATE '1899-12-30' + CAST(col AS INTEGER)` turns one into
 *   a date in SQL. ISO date cells (`t="d"`, rare) keep their text.
 * The first non-empty row is the header. Formulas are never evaluated: the value Excel saved is used.
 */

/** Bounds of one conversion (the zip reader's, tightened for a 4 MiB upload; time comes from the caller). */
export interface XlsxLimits {
  /** Largest CSV produced, bytes. */
  readonly maxCsvBytes: number;
  /** Widest row accepted, columns. */
  readonly maxColumns: number;
  /** The whole conversion, ms. */
  readonly timeMs: number;
}

const ZIP_LIMITS = resolveExtractLimits({
  maxZipEntries: 1000,
  maxUncompressedBytes: 64 * 1024 * 1024,
  maxCompressionRatio: 100,
});

const WORKBOOK = 'xl/workbook.xml';
const WORKBOOK_RELS = 'xl/_rels/workbook.xml.rels';
const SHARED_STRINGS = 'xl/sharedStrings.xml';
const FIRST_SHEET_FALLBACK = 'xl/worksheets/sheet1.xml';
/** Excel's own column limit (XFD). */
const EXCEL_MAX_COLUMNS = 16_384;

export function isXlsx(bytes: Uint8Array): boolean {
  return ZIP_MAGIC.every((byte, i) => bytes[i] === byte);
}

/**
 * The first worksheet as CSV bytes.
 * @throws DataAnalysisError `bad_file` (not an XLSX, damaged, encrypted, a zip bomb, a DTD, no sheet), `empty`,
 *   `too_many_columns`, `too_large`, `timeout`
 */
export async function xlsxToCsv(name: string, bytes: Uint8Array, limits: XlsxLimits): Promise<Uint8Array> {
  try {
    return await withDeadline(name, limits.timeMs, async (deadline) => convert(name, bytes, limits, deadline));
  } catch (error) {
    if (!(error instanceof DocumentRejected)) throw error;
    throw rejected(name, error);
  }
}

function rejected(name: string, error: DocumentRejected): DataAnalysisError {
  switch (error.code) {
    case 'timeout':
      return new DataAnalysisError('timeout', `Reading ${name} took too long: share a smaller sheet.`, {
        cause: error,
      });
    case 'zip_bomb':
      return new DataAnalysisError(
        'bad_file',
        `${name} is refused: its archive declares far more data than a spreadsheet of its size holds (a zip bomb?).`,
        { cause: error },
      );
    case 'encrypted':
      return new DataAnalysisError('bad_file', `${name} is protected with a password: share a copy without one.`, {
        cause: error,
      });
    default:
      return new DataAnalysisError(
        'bad_file',
        `${name} is not a readable XLSX workbook: save it again as .xlsx or .csv.`,
        {
          cause: error,
        },
      );
  }
}

async function convert(name: string, bytes: Uint8Array, limits: XlsxLimits, deadline: Deadline): Promise<Uint8Array> {
  if (!isXlsx(bytes)) {
    throw new DataAnalysisError(
      'bad_file',
      `${name} is not an XLSX workbook (not a zip archive): save it as .xlsx or .csv.`,
    );
  }
  const entries = readZipDirectory(name, bytes, ZIP_LIMITS);
  const byName = new Map(entries.map((entry) => [entry.name, entry]));
  const read = (part: string): string | undefined => {
    const entry = byName.get(part);
    return entry === undefined ? undefined : xmlOf(name, bytes, entry, deadline);
  };
  const workbook = read(WORKBOOK);
  if (workbook === undefined) {
    throw new DataAnalysisError(
      'bad_file',
      `${name} is not an Excel workbook (no ${WORKBOOK}): save it as .xlsx or .csv.`,
    );
  }
  const sheetPart = firstSheetPart(workbook, read(WORKBOOK_RELS));
  const sheet = read(sheetPart) ?? (sheetPart === FIRST_SHEET_FALLBACK ? undefined : read(FIRST_SHEET_FALLBACK));
  if (sheet === undefined) throw new DataAnalysisError('bad_file', `${name} has no worksheet to read.`);
  const sharedXml = read(SHARED_STRINGS);
  const shared = sharedXml === undefined ? [] : sharedStrings(sharedXml);
  deadline.check();
  return sheetCsv(name, sheet, shared, limits, deadline);
}

/** One XML part, inflated with the reader's caps, refused if it declares a DTD. */
function xmlOf(name: string, bytes: Uint8Array, entry: ZipEntry, deadline: Deadline): string {
  const xml = inflateZipEntry(name, bytes, entry, deadline);
  if (hasDoctype(xml)) {
    throw new DataAnalysisError('bad_file', `${name} is refused: ${entry.name} declares a DTD, which XLSX never does.`);
  }
  return new TextDecoder('utf-8').decode(xml);
}

/** The part of the workbook's first `<sheet>` (by its relationship id), else the conventional first sheet. */
function firstSheetPart(workbook: string, rels: string | undefined): string {
  const sheet = /<(?:\w+:)?sheet\b([^>]*)\/?>/.exec(workbook)?.[1] ?? '';
  const rid = /\br:id="([^"]+)"/.exec(sheet)?.[1];
  if (rid === undefined || rels === undefined) return FIRST_SHEET_FALLBACK;
  for (const match of rels.matchAll(/<Relationship\b([^>]*)\/?>/g)) {
    const attributes = match[1] ?? '';
    if (attribute(attributes, 'Id') !== rid) continue;
    const target = attribute(attributes, 'Target');
    if (target === undefined) return FIRST_SHEET_FALLBACK;
    // Targets are relative to xl/ ("worksheets/sheet1.xml"), or absolute within the package ("/xl/worksheets/…").
    return target.startsWith('/') ? target.slice(1) : `xl/${target.replace(/^\.\//, '')}`;
  }
  return FIRST_SHEET_FALLBACK;
}

function attribute(attributes: string, name: string): string | undefined {
  const value = new RegExp(`\\b${name}="([^"]*)"`).exec(attributes)?.[1];
  return value === undefined ? undefined : decodeEntities(value);
}

/** The text of a string item (`<si>`, `<is>`): its `<t>` runs joined, phonetic guides left out. */
function itemText(xml: string): string {
  const visible = xml.replace(/<rPh\b[\s\S]*?<\/rPh>/g, '');
  let text = '';
  for (const run of visible.matchAll(/<t(?:\s[^>]*)?>([\s\S]*?)<\/t>/g)) text += run[1] ?? '';
  return decodeEntities(text);
}

function sharedStrings(xml: string): string[] {
  return [...xml.matchAll(/<si\b[^>]*>([\s\S]*?)<\/si>|<si\b[^>]*\/>/g)].map((item) => itemText(item[1] ?? ''));
}

/** `AB` → 27 (0-based); undefined for anything else. */
function columnIndex(reference: string | undefined): number | undefined {
  const letters = reference === undefined ? undefined : /^([A-Z]{1,3})\d+$/.exec(reference)?.[1];
  if (letters === undefined) return undefined;
  let index = 0;
  for (const ch of letters) index = index * 26 + (ch.charCodeAt(0) - 64);
  return index - 1;
}

function sheetCsv(
  name: string,
  sheet: string,
  shared: readonly string[],
  limits: XlsxLimits,
  deadline: Deadline,
): Uint8Array {
  const data = /<sheetData\b[^>]*>([\s\S]*)<\/sheetData>/.exec(sheet)?.[1] ?? '';
  const rows: string[][] = [];
  let width = 0;
  let rowCount = 0;
  for (const row of data.matchAll(/<row\b[^>]*>([\s\S]*?)<\/row>/g)) {
    if (++rowCount % 1000 === 0) deadline.check();
    const cells: string[] = [];
    let next = 0;
    for (const cell of (row[1] ?? '').matchAll(/<c\b([^>]*?)(?:\/>|>([\s\S]*?)<\/c>)/g)) {
      const attributes = cell[1] ?? '';
      const index = columnIndex(attribute(attributes, 'r')) ?? next;
      next = index + 1;
      if (next > limits.maxColumns || next > EXCEL_MAX_COLUMNS) {
        throw new DataAnalysisError(
          'too_many_columns',
          `${name} has more than ${limits.maxColumns} columns in its first sheet: keep the columns you ask about.`,
        );
      }
      const value = cellValue(attribute(attributes, 't'), cell[2] ?? '', shared);
      if (value === '') continue;
      while (cells.length < index) cells.push('');
      cells[index] = value;
    }
    if (cells.length === 0) continue;
    width = Math.max(width, cells.length);
    rows.push(cells);
  }
  if (rows.length === 0) {
    throw new DataAnalysisError(
      'empty',
      `The first sheet of ${name} is empty: put the table (with a header row) first.`,
    );
  }
  const lines: string[] = [];
  let size = 0;
  for (const cells of rows) {
    const line = Array.from({ length: width }, (_, i) => csvField(cells[i] ?? '')).join(',');
    size += Buffer.byteLength(line) + 1;
    if (size > limits.maxCsvBytes) {
      throw new DataAnalysisError(
        'too_large',
        `The first sheet of ${name} is over ${formatBytes(limits.maxCsvBytes)} as a table: share fewer rows.`,
      );
    }
    lines.push(line);
  }
  return Buffer.from(`${lines.join('\n')}\n`, 'utf8');
}

function cellValue(type: string | undefined, inner: string, shared: readonly string[]): string {
  if (type === 'inlineStr') return itemText(/<is\b[^>]*>([\s\S]*?)<\/is>/.exec(inner)?.[1] ?? '');
  const raw = /<v\b[^>]*>([\s\S]*?)<\/v>/.exec(inner)?.[1];
  if (raw === undefined) return '';
  const value = decodeEntities(raw);
  switch (type) {
    case 's':
      return shared[Number(value)] ?? '';
    case 'b':
      return value.trim() === '1' ? 'true' : 'false';
    case 'e':
      return '';
    default:
      return value;
  }
}

/** RFC 4180: quoted when it holds a separator, a quote, a line break or edge spaces; quotes doubled. */
function csvField(value: string): string {
  return /[",\r\n]|^\s|\s$/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}
