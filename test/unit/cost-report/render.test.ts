import { buildCostReport } from '../../../tools/cost-report/build';
import { escapeHtml, renderHtml, tickStep } from '../../../tools/cost-report/html';
import { csvField, formatNano, renderCsv, renderJson, renderTable } from '../../../tools/cost-report/render';
import { makeLedger } from './make-ledger';

const OPTIONS = {
  from: '2026-11-01',
  to: '2026-11-07',
  now: new Date('2026-12-01T00:00:00Z'),
  region: 'us-east-1',
  instanceType: 'ml.g4dn.xlarge',
  instances: 1,
} as const;
const rows = makeLedger({ invocations: 120, groups: 6, from: '2026-11-01', days: 7, seed: 7 });

/** Parses RFC 4180 CSV (quoted fields with doubled quotes and embedded CR/LF), to check what a reader gets back. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i += 1;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      record.push(field);
      field = '';
    } else if (ch === '\r' && text[i + 1] === '\n') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      i += 1;
    } else field += ch;
  }
  return records;
}

test('formatNano: exact decimals, half away from zero, negatives', () => {
  expect(formatNano(316_055)).toBe('0.000316055');
  expect(formatNano(530_208_000_000, 2)).toBe('530.21');
  expect(formatNano(1_234_550_000, 4)).toBe('1.2346');
  expect(formatNano(49_999, 4)).toBe('0.0000');
  expect(formatNano(50_000, 4)).toBe('0.0001');
  expect(formatNano(-179_800_000, 4)).toBe('-0.1798');
  expect(formatNano(-40, 4)).toBe('0.0000');
  expect(formatNano(7_000_000_000, 0)).toBe('7');
});

test('csvField: RFC 4180 quoting and spreadsheet-formula neutralising', () => {
  expect(csvField('slack#T1#C1')).toBe('slack#T1#C1');
  expect(csvField('a,b')).toBe('"a,b"');
  expect(csvField('say "hi"')).toBe('"say ""hi"""');
  expect(csvField('two\nlines')).toBe('"two\nlines"');
  expect(csvField('=HYPERLINK("http://x")')).toBe('"\'=HYPERLINK(""http://x"")"');
  expect(csvField('+1')).toBe("'+1");
  expect(csvField('@x')).toBe("'@x");
});

test('CSV: a header, one record per key plus TOTAL, awkward keys survive a round trip', () => {
  const awkward = rows.map((r, i) => (i % 10 === 0 ? { ...r, chatId: 'ops, "night"\nshift' } : r));
  const report = buildCostReport(awkward, { ...OPTIONS, by: 'group' });
  const records = parseCsv(renderCsv(report));
  expect(records[0]).toEqual([
    'group',
    'invocations',
    'cached',
    'prompt_tokens',
    'completion_tokens',
    'apiGateway_usd',
    'lambda_usd',
    'sqs_usd',
    'dynamodb_usd',
    'logs_usd',
    'sagemaker_usd',
    'marginal_usd',
    'idle_share_usd',
    'amortised_usd',
  ]);
  expect(records).toHaveLength(report.lines.length + 2);
  expect(records.every((r) => r.length === 14)).toBe(true);
  expect(records.map((r) => r[0])).toContain(`${awkward[0]?.platform}#${awkward[0]?.tenantId}#ops, "night"\nshift`);
  const total = records[records.length - 1];
  expect(total?.[0]).toBe('TOTAL');
  // Nine decimals: the CSV re-adds to the nano-dollar.
  const sum = records.slice(1, -1).reduce((t, r) => t + BigInt((r[11] ?? '').replace('.', '')), 0n);
  expect(sum).toBe(BigInt(report.totals.marginalNanoUsd));
  expect(total?.[11]).toBe(formatNano(report.totals.marginalNanoUsd));
});

test('table: aligned columns, TOTAL last, assumptions and reconciliation printed', () => {
  const report = buildCostReport(rows, { ...OPTIONS, by: 'platform' });
  const text = renderTable(report);
  const lines = text.split('\n');
  const header = lines.find((l) => l.startsWith('PLATFORM'));
  const totalLine = lines.find((l) => l.startsWith('TOTAL'));
  expect(header).toBeDefined();
  expect(totalLine?.length).toBe(header?.length);
  expect(totalLine).toContain(formatNano(report.totals.amortisedNanoUsd, 4));
  for (const platform of ['dingtalk', 'feishu', 'slack', 'wecom'])
    expect(text).toMatch(new RegExp(`^${platform} `, 'm'));
  expect(text).toContain('Endpoint: 1 x ml.g4dn.xlarge at $0.7364/h');
  expect(text).toContain(`Grand total (amortised + idle unattributed): $${formatNano(report.grandTotalNanoUsd, 4)}`);
});

test('JSON is the report itself', () => {
  const report = buildCostReport(rows, { ...OPTIONS, by: 'day' });
  expect(JSON.parse(renderJson(report))).toEqual(JSON.parse(JSON.stringify(report)));
});

describe('HTML', () => {
  const report = buildCostReport(
    rows.map((r, i) => (i === 0 ? { ...r, chatId: '<script>alert(1)</script>' } : r)),
    { ...OPTIONS, by: 'group' },
  );
  const html = renderHtml(report);

  test('holds the stacked per-day chart: one column per day, one segment per component', () => {
    const chart = html.match(/<figure id="cost-per-day">([\s\S]*?)<\/figure>/)?.[1] ?? '';
    expect(chart).toContain('<svg class="chart"');
    const columns = chart.match(/<g>[\s\S]*?<\/g>/g) ?? [];
    expect(columns).toHaveLength(7);
    for (const column of columns) expect(column.match(/<rect /g)).toHaveLength(7);
    for (const label of ['Endpoint idle time', 'SageMaker (busy)', 'Lambda', 'API Gateway', 'SQS', 'DynamoDB']) {
      expect(chart).toContain(label);
    }
    expect(html).toContain('<figure id="serverless-per-day">');
  });

  test('shows the top groups and every line', () => {
    expect((html.match(/class="bar-row"/g) ?? []).length).toBe(report.topGroups.length);
    expect((html.match(/<tbody>[\s\S]*<\/tbody>/)?.[0].match(/<tr>/g) ?? []).length).toBe(report.lines.length);
    expect(html).toContain(`$${formatNano(report.grandTotalNanoUsd, 2)}`);
  });

  test('is self-contained and escapes platform ids', () => {
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
    expect(html.replaceAll('http://www.w3.org/2000/svg', '')).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/<link |@import|src=/);
  });
});

test('escapeHtml and tickStep', () => {
  expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#39;&#60;/a&#62;');
  expect(tickStep(17.67)).toBe(5);
  expect(tickStep(0.0042)).toBe(0.001);
  expect(tickStep(100)).toBe(20);
  expect(tickStep(0)).toBe(1);
});
