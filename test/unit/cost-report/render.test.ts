import { buildCostReport } from '../../../tools/cost-report/build';
import { escapeHtml, renderHtml, tickStep } from '../../../tools/cost-report/html';
import { formatNano } from '../../../tools/cost-report/money';
import { csvField, renderCsv, renderJson, renderTable } from '../../../tools/cost-report/render';
import { makeLedger } from './make-ledger';
import { parseCsv } from './parse-csv';

const OPTIONS = {
  from: '2026-11-01',
  to: '2026-11-07',
  now: new Date('2026-12-01T00:00:00Z'),
  region: 'us-east-1',
  instanceType: 'ml.g4dn.xlarge',
  instances: 1,
} as const;
const rows = makeLedger({ invocations: 120, groups: 6, from: '2026-11-01', days: 7, seed: 7 });

test('csvField: RFC 4180 quoting and spreadsheet-formula neutralising', () => {
  expect(csvField('slack#T1#C1')).toBe('slack#T1#C1');
  expect(csvField('a,b')).toBe('"a,b"');
  expect(csvField('say "hi"')).toBe('"say ""hi"""');
  expect(csvField('two\nlines')).toBe('"two\nlines"');
  expect(csvField('=HYPERLINK("http://x")')).toBe('"\'=HYPERLINK(""http://x"")"');
  expect(csvField('+1')).toBe("'+1");
  expect(csvField('@x')).toBe("'@x");
});

test('CSV: a header, one record per key, then TOTAL, idle hours and GRAND TOTAL; awkward ids survive a round trip', () => {
  const awkward = rows.map((r, i) => (i % 10 === 0 ? { ...r, chatId: 'ops, "night"\nshift #2 100%' } : r));
  const report = buildCostReport(awkward, { ...OPTIONS, by: 'group' });
  const records = parseCsv(renderCsv(report));
  expect(records[0]).toEqual([
    'platform',
    'tenant',
    'group',
    'invocations',
    'cached',
    'by_backup_model',
    'prompt_tokens',
    'completion_tokens',
    'apiGateway_usd',
    'lambda_usd',
    'sqs_usd',
    'dynamodb_usd',
    'logs_usd',
    'sagemaker_usd',
    'voice_usd',
    'marginal_usd',
    'idle_share_usd',
    'amortised_usd',
  ]);
  expect(records).toHaveLength(report.lines.length + 4);
  expect(records.every((r) => r.length === 18)).toBe(true);
  const odd = 'ops, "night"\nshift #2 100%';
  const expectedOdd = new Set(awkward.filter((r) => r.chatId === odd).map((r) => `${r.platform}|${r.tenantId}|${odd}`));
  const oddRecords = records.filter((r) => r[2] === odd).map((r) => r.slice(0, 3).join('|'));
  expect(new Set(oddRecords)).toEqual(expectedOdd);
  expect(oddRecords).toHaveLength(expectedOdd.size);
  const [total, idle, grand] = records.slice(-3);
  expect([total?.[0], idle?.[0], grand?.[0]]).toEqual(['TOTAL', 'IDLE HOURS WITHOUT INVOCATIONS', 'GRAND TOTAL']);
  expect(total?.slice(1, 3)).toEqual(['', '']);
  // Nine decimals: the CSV re-adds to the nano-dollar.
  const nano = (cell: string | undefined) => BigInt((cell ?? '').replace('.', ''));
  const sum = records.slice(1, -3).reduce((t, r) => t + nano(r[15]), 0n);
  expect(sum).toBe(BigInt(awkward.reduce((t, r) => t + r.totalNanoUsd, 0)));
  expect(nano(total?.[15])).toBe(sum);
  // GRAND TOTAL = TOTAL + idle hours, column by column; its amortised is the request path plus 7 days of endpoint.
  for (let c = 3; c < 18; c += 1) expect(nano(grand?.[c])).toBe(nano(total?.[c]) + nano(idle?.[c]));
  const requestPath = awkward.reduce((t, r) => t + BigInt(r.totalNanoUsd - r.componentsNanoUsd.sagemaker), 0n);
  expect(nano(grand?.[17])).toBe(requestPath + 7n * 24n * 736_400_000n);
});

test('table: aligned columns with a µUSD units row, TOTAL last, assumptions and reconciliation printed', () => {
  const report = buildCostReport(rows, { ...OPTIONS, by: 'platform' });
  const text = renderTable(report);
  const lines = text.split('\n');
  const headerAt = lines.findIndex((l) => l.startsWith('PLATFORM'));
  const header = lines[headerAt];
  const units = lines[headerAt + 1];
  const totalLine = lines.find((l) => l.startsWith('TOTAL'));
  expect(header).toBeDefined();
  expect(totalLine?.length).toBe(header?.length);
  expect(units?.trim().split(/ +/)).toEqual(Array(10).fill('µUSD'));
  for (const platform of ['dingtalk', 'feishu', 'slack', 'wecom'])
    expect(text).toMatch(new RegExp(`^${platform} `, 'm'));
  expect(text).toContain('Amounts in µUSD (micro-dollars: 1,000,000 µUSD = $1)');
  expect(text).toContain(
    'Endpoint assumed running: 1 x ml.g4dn.xlarge, 168 h from 2026-11-01 00:00 UTC to 2026-11-08 00:00 UTC',
  );
  // 168 h x $0.7364 = $123.7152
  expect(text).toContain('Endpoint bill: 168.00 instance-hours = 123,715,200.000 µUSD ($123.72).');
  expect(text).toMatch(/^Grand total \(TOTAL amortised \+ idle hours without invocations\): [\d,]+\.\d{3} µUSD/m);
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
