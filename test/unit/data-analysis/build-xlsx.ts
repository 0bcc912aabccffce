import { zipSync } from 'fflate';

/**
 * Minimal XLSX workbooks for tests, zipped with fflate (as Excel writes them: workbook, its relationships, shared
 * strings, one or more worksheets), so the converter is tested on real packages without binary fixtures.
 */

const encoder = new TextEncoder();

const CONTENT_TYPES = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>
</Types>`;

const PACKAGE_RELS = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>
</Relationships>`;

export function sheetXml(rows: string): string {
  return `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><dimension ref="A1"/><cols><col min="1" max="1" width="10"/></cols><sheetData>${rows}</sheetData></worksheet>`;
}

export interface XlsxSpec {
  /** Worksheets in workbook order, as `<row>` elements. */
  readonly sheets: readonly string[];
  /** The shared string table (`t="s"` indexes into it), each an `<si>` body. */
  readonly sharedStrings?: readonly string[];
  /** More entries (or replacements), by name; `null` leaves a standard entry out. */
  readonly entries?: Readonly<Record<string, Uint8Array | string | null>>;
}

/**
 * A workbook whose first sheet in `<sheets>` is `sheets[0]`, stored under a name that is NOT `sheet1.xml` for the
 * first one (`sheetA.xml`), so the converter must follow the workbook's relationship to find it.
 */
export function buildXlsx(spec: XlsxSpec): Uint8Array {
  const names = spec.sheets.map((_, i) => (i === 0 ? 'sheetA.xml' : `sheet${i + 1}.xml`));
  const workbook = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>${names
    .map((_, i) => `<sheet name="Sheet${i + 1}" sheetId="${i + 1}" r:id="rId${i + 1}"/>`)
    .join('')}</sheets></workbook>`;
  const rels = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">${names
    .map(
      (name, i) =>
        `<Relationship Id="rId${i + 1}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/${name}"/>`,
    )
    .join('')}</Relationships>`;
  const files: Record<string, Uint8Array | string | null> = {
    '[Content_Types].xml': CONTENT_TYPES,
    '_rels/.rels': PACKAGE_RELS,
    'xl/workbook.xml': workbook,
    'xl/_rels/workbook.xml.rels': rels,
    ...(spec.sharedStrings
      ? {
          'xl/sharedStrings.xml': `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="${spec.sharedStrings.length}">${spec.sharedStrings
            .map((s) => `<si>${s}</si>`)
            .join('')}</sst>`,
        }
      : {}),
    ...Object.fromEntries(spec.sheets.map((rows, i) => [`xl/worksheets/${names[i]}`, sheetXml(rows)])),
    ...spec.entries,
  };
  const zippable: Record<string, Uint8Array> = {};
  for (const [name, content] of Object.entries(files)) {
    if (content !== null) zippable[name] = typeof content === 'string' ? encoder.encode(content) : content;
  }
  return zipSync(zippable, { level: 6 });
}
