import { zipSync } from 'fflate';
import {
  parseSkillResponse,
  SKILL_PROTOCOL_VERSION,
  type SkillFile,
  type SkillRequest,
} from '#core/skills/remote-protocol';
import { answerDataRequest, type DataSkillDeps } from '#data-analysis/data-skill';
import { tableNameOf } from '#data-analysis/shared-file';
import type { SqlPromptMessage, WriteSql } from '#data-analysis/write-sql';
import { SAMPLE_SALES_DATASET } from '../../../sandbox/skills/data-skill';
import { buildXlsx } from '../../unit/data-analysis/build-xlsx';

/**
 * A CSV or XLSX shared in the chat as the data skill's table, on real DuckDB (the same child-process engine as the
 * registered datasets): the reply's numbers are the engine's, the file replaces the registered datasets, and every
 * bad file is an answer naming what is wrong.
 */

const TEAM_CSV = 'member,team,tickets\nAda,core,12\nBo,core,7\nCy,edge,5\nDi,edge,9\nEd,edge,4\n';

const file = (name: string, bytes: string | Uint8Array, mediaType = 'application/octet-stream'): SkillFile => ({
  name,
  mediaType,
  data: Buffer.from(typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes).toString('base64'),
});

const request = (text: string, files: readonly SkillFile[]): SkillRequest => ({
  version: SKILL_PROTOCOL_VERSION,
  skill: 'data',
  requestId: 'req-1',
  text,
  deadlineMs: 20_000,
  files,
});

function scriptedModel(...replies: string[]): WriteSql & { readonly calls: SqlPromptMessage[][] } {
  const calls: SqlPromptMessage[][] = [];
  const writeSql = async (messages: readonly SqlPromptMessage[]) => {
    calls.push([...messages]);
    const reply = replies[calls.length - 1];
    if (reply === undefined) throw new Error('the scripted model has no more replies');
    return reply;
  };
  return Object.assign(writeSql, { calls });
}

const deps = (writeSql: WriteSql = scriptedModel()): DataSkillDeps => ({ datasets: [SAMPLE_SALES_DATASET], writeSql });

async function answer(req: SkillRequest, d: DataSkillDeps): Promise<string> {
  const response = await answerDataRequest(req, d);
  expect(parseSkillResponse(JSON.parse(JSON.stringify(response))).ok).toBe(true);
  if (response.action !== 'answer') throw new Error(`expected an answer, got ${response.action}`);
  return response.reply;
}

describe('a file shared with /data or /sql is the table', () => {
  it('/sql on a shared CSV answers with the engine’s sums, not the registered dataset', async () => {
    const reply = await answer(
      request('/sql SELECT team, sum(tickets) AS tickets FROM team GROUP BY team ORDER BY team', [
        file('team.csv', TEAM_CSV, 'text/csv'),
      ]),
      deps(),
    );
    expect(reply).toMatch(/\|\s*core\s*\|\s*19\s*\|/);
    expect(reply).toMatch(/\|\s*edge\s*\|\s*18\s*\|/);
  });

  it('/data <question> on a shared XLSX: the model sees the sheet’s columns, the reply the engine’s numbers', async () => {
    const xlsx = buildXlsx({
      sharedStrings: ['<t>member</t>', '<t>team</t>', '<t>tickets</t>', '<t>core</t>', '<t>edge</t>'],
      sheets: [
        [
          '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="s"><v>2</v></c></row>',
          '<row r="2"><c r="A2" t="inlineStr"><is><t>Ada</t></is></c><c r="B2" t="s"><v>3</v></c><c r="C2"><v>12</v></c></row>',
          '<row r="3"><c r="A3" t="inlineStr"><is><t>Cy</t></is></c><c r="B3" t="s"><v>4</v></c><c r="C3"><v>5</v></c></row>',
          '<row r="4"><c r="A4" t="inlineStr"><is><t>Di</t></is></c><c r="B4" t="s"><v>4</v></c><c r="C4"><v>9</v></c></row>',
        ].join(''),
      ],
    });
    const model = scriptedModel(
      '```sql\nSELECT team, sum(tickets) AS total FROM q3_tickets GROUP BY team ORDER BY team\n```',
    );
    const reply = await answer(request('/data tickets per team', [file('Q3 Tickets.xlsx', xlsx)]), deps(model));
    expect(reply).toMatch(/\|\s*core\s*\|\s*12\s*\|/);
    expect(reply).toMatch(/\|\s*edge\s*\|\s*14\s*\|/);
    const prompt = model.calls[0]?.map((m) => m.content).join('\n') ?? '';
    expect(prompt).toContain('q3_tickets');
    expect(prompt).toContain('tickets');
    expect(prompt).not.toContain('unit_price');
  });

  it('a file with no name to go by (WeCom) is read by its bytes: a zip as XLSX, text as CSV', async () => {
    const xlsx = buildXlsx({
      sheets: [
        '<row r="1"><c r="A1" t="inlineStr"><is><t>n</t></is></c></row><row r="2"><c r="A2"><v>41</v></c></row>',
      ],
    });
    expect(await answer(request('/sql SELECT n + 1 AS m FROM file', [file('file', xlsx)]), deps())).toMatch(
      /\|\s*42\s*\|/,
    );
    expect(await answer(request('/sql SELECT sum(tickets) AS t FROM file', [file('file', TEAM_CSV)]), deps())).toMatch(
      /\|\s*37\s*\|/,
    );
  });

  it('/data alone describes the shared file’s table', async () => {
    const reply = await answer(request('/data', [file('team.csv', TEAM_CSV)]), deps());
    expect(reply).toContain('team');
    expect(reply).toContain('5 rows');
    expect(reply).toContain('tickets BIGINT');
  });

  it('a message without a data command declines, files or not', async () => {
    const response = await answerDataRequest(request('what is in this file?', [file('team.csv', TEAM_CSV)]), deps());
    expect(response.action).toBe('decline');
  });
});

describe('a shared file that is not a usable table is answered with why', () => {
  it.each([
    ['a PDF', file('report.pdf', '%PDF-1.7'), 'CSV or XLSX'],
    ['binary junk named .csv', file('junk.csv', Buffer.from([0x00, 0xff, 0x10, 0x00, 0x9c])), 'not text'],
    ['a GBK CSV', file('gbk.csv', Buffer.from([0xc7, 0xf8, 0xd3, 0xf2, 0x2c, 0x31, 0x0a])), 'not UTF-8'],
    ['an .xlsx that is not a zip', file('fake.xlsx', 'a,b\n1,2\n'), 'not an XLSX workbook'],
    [
      'a zip bomb named .xlsx',
      file(
        'bomb.xlsx',
        zipSync({ 'xl/workbook.xml': Buffer.from('<workbook/>'), 'xl/worksheets/sheet1.xml': new Uint8Array(8 << 20) }),
      ),
      'zip bomb',
    ],
    [
      'a CSV with 300 columns',
      file('wide.csv', `${Array.from({ length: 300 }, (_, i) => `c${i}`).join(',')}\n`),
      '300 columns',
    ],
    ['an empty CSV', file('empty.csv', '\n'), 'no header line'],
  ])('%s', async (_, shared, expected) => {
    const reply = await answer(request('/sql SELECT 1', [shared]), deps());
    expect(reply).toContain(expected);
  });
});

describe('tableNameOf', () => {
  it.each([
    ['sales.csv', 'sales'],
    ['Q3 Tickets.xlsx', 'q3_tickets'],
    ['2024-report.csv', 't_2024_report'],
    ['销售.csv', 'shared_file'],
    ['order.csv', 'order_data'],
    ['Café Menu.CSV', 'cafe_menu'],
  ])('%s → %s', (name, table) => {
    expect(tableNameOf(name)).toBe(table);
  });
});
