import { MAX_SKILL_REPLY_CHARS } from '#core/skills/remote-protocol';
import {
  cellText,
  formatCell,
  formatDecimal,
  formatFloat,
  formatResult,
  MAX_CELL_CHARS,
  MAX_SHOWN_SQL_CHARS,
} from '#data-analysis/format-result';
import type { Cell, QueryResult } from '#data-analysis/query-result';

const int = (value: bigint | number): Cell => ({ kind: 'int', value: BigInt(value) });
const text = (value: string): Cell => ({ kind: 'text', value });
const float = (value: number): Cell => ({ kind: 'float', value });

function result(rows: Cell[][], extra: Partial<QueryResult> = {}): QueryResult {
  return {
    columns: [
      { name: 'region', type: 'VARCHAR' },
      { name: 'units', type: 'HUGEINT' },
    ],
    rows,
    totalRows: rows.length,
    totalExact: true,
    ...extra,
  };
}

describe('numbers', () => {
  it.each<[number, string]>([
    [50552.909999999996, '50552.91'],
    [1080635.8, '1080635.8'],
    [2.5, '2.5'],
    [3, '3'],
    [-1234.56789, '-1234.5679'],
    [0.000123456, '0.0001235'],
    [0.5, '0.5'],
    [0, '0'],
    [1e22, '1e+22'],
    [Number.NaN, 'NaN'],
    [Number.POSITIVE_INFINITY, 'Infinity'],
  ])('a double %p is %s', (value, shown) => {
    expect(formatFloat(value)).toBe(shown);
  });

  it.each<[bigint, number, string]>([
    [123450n, 2, '1234.50'],
    [-5n, 2, '-0.05'],
    [123456789n, 6, '123.4568'],
    [-123456785n, 6, '-123.4568'],
    [1999999n, 6, '2.0000'],
    [42n, 0, '42'],
  ])('a DECIMAL %p with scale %p is %s', (unscaled, scale, shown) => {
    expect(formatDecimal(unscaled, scale)).toBe(shown);
  });

  it('writes integers in full, without thousands separators, and NULL as a dash', () => {
    expect(formatCell(int(12345678901234567890n))).toBe('12345678901234567890');
    expect(formatCell({ kind: 'null' })).toBe('—');
    expect(formatCell({ kind: 'bool', value: false })).toBe('false');
  });
});

describe('cells', () => {
  it('escapes | and backslashes and puts line breaks on one line', () => {
    expect(cellText('a|b\\c\nd')).toBe('a\\|b\\\\c d');
  });

  it(`cuts a cell at ${MAX_CELL_CHARS} characters, counting CJK characters as one`, () => {
    const cut = cellText('华'.repeat(100));
    expect([...cut]).toHaveLength(MAX_CELL_CHARS);
    expect(cut.endsWith('…')).toBe(true);
  });

  it('keeps an empty text cell visible', () => {
    expect(cellText('')).toBe(' ');
  });
});

describe('formatResult', () => {
  it('writes a summary, a table with numeric columns right-aligned, and the SQL', () => {
    const reply = formatResult({
      table: 'sales',
      sql: 'SELECT region, sum(units) AS units FROM sales GROUP BY region',
      result: result([
        [text('华东'), int(248)],
        [text('Europe'), int(269)],
      ]),
    });
    expect(reply).toBe(
      [
        '2 rows from sales.',
        '',
        '| region | units |',
        '| --- | ---: |',
        '| 华东 | 248 |',
        '| Europe | 269 |',
        '',
        '```sql',
        'SELECT region, sum(units) AS units FROM sales GROUP BY region',
        '```',
      ].join('\n'),
    );
  });

  it('says one row, and no rows without a table', () => {
    expect(formatResult({ table: 't', sql: 'SELECT 1', result: result([[text('a'), int(1)]]) })).toMatch(
      /^1 row from t\./,
    );
    const none = formatResult({ table: 't', sql: 'SELECT 1 WHERE false', result: result([]) });
    expect(none).toBe('No rows from t.\n\n```sql\nSELECT 1 WHERE false\n```');
  });

  it('names how many of how many rows it shows', () => {
    const reply = formatResult({
      table: 'sales',
      sql: 'SELECT * FROM big',
      result: result([[text('a'), int(1)]], { totalRows: 1234 }),
    });
    expect(reply).toMatch(/^First 1 of 1,234 rows from sales\./);
  });

  it('says when counting stopped at the time limit', () => {
    const reply = formatResult({
      table: 'sales',
      sql: 'SELECT * FROM big',
      result: result([[text('a'), int(1)]], { totalRows: 90000, totalExact: false }),
    });
    expect(reply).toMatch(/^First 1 of at least 90,000 rows from sales \(counting stopped at the time limit\)\./);
  });

  it('drops rows from the end to stay within one message, and says so', () => {
    const rows = Array.from({ length: 200 }, (_, i) => [text(`region number ${i} ${'x'.repeat(40)}`), float(i + 0.5)]);
    const reply = formatResult({ table: 'sales', sql: 'SELECT * FROM sales', result: result(rows) });
    expect(reply.length).toBeLessThanOrEqual(MAX_SKILL_REPLY_CHARS);
    const shown = reply.split('\n').filter((line) => line.startsWith('| region number')).length;
    expect(shown).toBeGreaterThan(10);
    expect(shown).toBeLessThan(200);
    expect(reply).toMatch(new RegExp(`^First ${shown} of 200 rows from sales \\(shortened to fit one message\\)\\.`));
    expect(reply.endsWith('SELECT * FROM sales\n```')).toBe(true);
  });

  it('cuts a very long SQL in what it shows, noting how much', () => {
    const sql = `SELECT ${'1 + '.repeat(1000)}1`;
    const reply = formatResult({ table: 't', sql, result: result([[text('a'), int(1)]]) });
    expect(reply).toContain(`-- … ${sql.length - MAX_SHOWN_SQL_CHARS} more characters not shown`);
    expect(reply.length).toBeLessThanOrEqual(MAX_SKILL_REPLY_CHARS);
  });

  it('fences SQL holding backticks with a longer fence', () => {
    const reply = formatResult({ table: 't', sql: 'SELECT 1 AS "```"', result: result([]) });
    expect(reply).toContain('````sql\nSELECT 1 AS "```"\n````');
  });

  it('says a result too wide for one message is, instead of a broken table', () => {
    const columns = Array.from({ length: 120 }, (_, i) => ({ name: `column_${i}_${'w'.repeat(30)}`, type: 'INTEGER' }));
    const reply = formatResult({
      table: 'wide',
      sql: 'SELECT * FROM wide',
      result: { columns, rows: [columns.map(() => int(1))], totalRows: 1, totalExact: true },
    });
    expect(reply).toMatch(/^1 row from wide, but 120 columns are too wide for one message: select fewer columns\./);
    expect(reply.length).toBeLessThanOrEqual(MAX_SKILL_REPLY_CHARS);
  });
});
