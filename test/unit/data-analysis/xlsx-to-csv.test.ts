import { zipSync } from 'fflate';
import { DataAnalysisError } from '#data-analysis/data-analysis-error';
import { isXlsx, xlsxToCsv } from '#data-analysis/xlsx-to-csv';
import { withDeclaredSize } from '../knowledge/extract/build-docx';
import { buildXlsx, sheetXml } from './build-xlsx';

const LIMITS = { maxCsvBytes: 1024 * 1024, maxColumns: 256, timeMs: 5000 };

async function csvOf(bytes: Uint8Array, limits = LIMITS): Promise<string> {
  return Buffer.from(await xlsxToCsv('book.xlsx', bytes, limits)).toString('utf8');
}

async function refusal(bytes: Uint8Array, limits = LIMITS): Promise<DataAnalysisError> {
  const error = await xlsxToCsv('book.xlsx', bytes, limits).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DataAnalysisError);
  return error as DataAnalysisError;
}

describe('xlsxToCsv: the first sheet of a real XLSX package as CSV', () => {
  it('reads shared, rich and inline strings, numbers, booleans, empty and error cells, dates as numbers', async () => {
    const workbook = buildXlsx({
      sharedStrings: [
        '<t>region</t>',
        '<t>units</t>',
        '<r><t>华</t></r><r><rPr><b/></rPr><t>东</t></r><rPh sb="0" eb="1"><t>ホア</t></rPh>',
        '<t xml:space="preserve"> West, &amp; "Co" </t>',
        '<t>ordered</t>',
        '<t>ok</t>',
      ],
      sheets: [
        [
          '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="s"><v>4</v></c><c r="D1" t="s"><v>5</v></c><c r="E1" t="inlineStr"><is><t>note</t></is></c></row>',
          '<row r="2"><c r="A2" t="s"><v>2</v></c><c r="B2"><v>3</v></c><c r="C2" s="1"><v>45292</v></c><c r="D2" t="b"><v>1</v></c><c r="E2" t="inlineStr"><is><t>line1\nline2</t></is></c></row>',
          '<row r="4"><c r="A4" t="s"><v>3</v></c><c r="B4"><v>1.5E-2</v></c><c r="D4" t="b"><v>0</v></c><c r="E4" t="e"><v>#DIV/0!</v></c></row>',
          '<row r="5"><c r="A5" t="str"><f>A2&amp;"x"</f><v>华东x</v></c><c r="B5"/></row>',
        ].join(''),
        '<row r="1"><c r="A1" t="inlineStr"><is><t>second sheet, never read</t></is></c></row>',
      ],
    });
    expect(isXlsx(workbook)).toBe(true);
    expect(await csvOf(workbook)).toBe(
      [
        'region,units,ordered,ok,note',
        '华东,3,45292,true,"line1\nline2"',
        '" West, & ""Co"" ",1.5E-2,,false,',
        '华东x,,,,',
        '',
      ].join('\n'),
    );
  });

  it('falls back to xl/worksheets/sheet1.xml when the workbook names no relationship', async () => {
    const workbook = buildXlsx({
      sheets: [],
      entries: {
        'xl/workbook.xml': '<workbook><sheets><sheet name="S" sheetId="1"/></sheets></workbook>',
        'xl/worksheets/sheet1.xml': sheetXml('<row r="1"><c r="A1"><v>7</v></c></row>'),
      },
    });
    expect(await csvOf(workbook)).toBe('7\n');
  });

  it('refuses a part that declares a DTD or an entity, before reading it', async () => {
    const billion = '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>';
    const dtdSheet = buildXlsx({ sheets: [`</sheetData>${billion}<sheetData>`] });
    expect((await refusal(dtdSheet)).code).toBe('bad_file');
    const entityStrings = buildXlsx({
      sheets: ['<row r="1"><c r="A1" t="s"><v>0</v></c></row>'],
      sharedStrings: ['<t>x</t>'],
      entries: { 'xl/sharedStrings.xml': `<?xml version="1.0"?>${billion}<sst><si><t>&lol2;</t></si></sst>` },
    });
    const error = await refusal(entityStrings);
    expect(error.code).toBe('bad_file');
    expect(error.message).toContain('DTD');
  });

  it('refuses a zip bomb: a part compressed a thousand times, or a directory that lies about sizes', async () => {
    const zeros = new Uint8Array(8 * 1024 * 1024);
    const bomb = zipSync({
      'xl/workbook.xml': new TextEncoder().encode('<workbook/>'),
      'xl/worksheets/sheet1.xml': zeros,
    });
    const error = await refusal(bomb);
    expect(error.code).toBe('bad_file');
    expect(error.message).toContain('zip bomb');
    const small = buildXlsx({ sheets: ['<row r="1"><c r="A1"><v>1</v></c></row>'] });
    const lying = withDeclaredSize(small, 'xl/worksheets/sheetA.xml', 200 * 1024 * 1024);
    expect((await refusal(lying)).code).toBe('bad_file');
  });

  it('names junk, a workbook without a sheet and an empty first sheet', async () => {
    const junk = await refusal(Buffer.from('%PDF-1.7 not a workbook'));
    expect(junk).toMatchObject({ code: 'bad_file', message: expect.stringContaining('not a zip archive') });
    const noWorkbook = zipSync({ 'word/document.xml': new TextEncoder().encode('<w:document/>') });
    expect((await refusal(noWorkbook)).message).toContain('not an Excel workbook');
    expect((await refusal(buildXlsx({ sheets: ['<row r="1"/>'] }))).code).toBe('empty');
    const damaged = buildXlsx({ sheets: ['<row r="1"><c r="A1"><v>1</v></c></row>'] }).slice(0, 200);
    expect((await refusal(damaged)).code).toBe('bad_file');
  });

  it('refuses a sheet wider than the column limit, and a table over the CSV size limit', async () => {
    const wide = buildXlsx({ sheets: ['<row r="1"><c r="A1"><v>1</v></c><c r="JA1"><v>2</v></c></row>'] });
    const error = await refusal(wide);
    expect(error).toMatchObject({ code: 'too_many_columns', message: expect.stringContaining('256') });
    const rows = Array.from({ length: 200 }, (_, i) => `<row r="${i + 1}"><c r="A${i + 1}"><v>${i}</v></c></row>`);
    expect((await refusal(buildXlsx({ sheets: [rows.join('')] }), { ...LIMITS, maxCsvBytes: 100 })).code).toBe(
      'too_large',
    );
  });
});
