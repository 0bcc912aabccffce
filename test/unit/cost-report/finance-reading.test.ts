import { COST_COMPONENTS, type CostComponent } from '#core/cost/cost-model';
import type { LedgerPlatform } from '#platforms/types';
import { buildCostReport, type CostReport } from '../../../tools/cost-report/build';
import { renderHtml } from '../../../tools/cost-report/html';
import { renderCsv, renderJson, renderTable } from '../../../tools/cost-report/render';
import type { ReportRow } from '../../../tools/cost-report/source';
import { parseCsv } from './parse-csv';

/**
 * Issue 21, "Cost report", read as finance reads it: amounts with enough digits to see every component, group keys
 * as separate columns, one per-invocation figure (or each labelled), and a period without traffic that says its
 * whole cost rests on the assumption that the endpoint ran. Expected numbers are worked out here by hand from the
 * rows, never copied from the output.
 */

const DAY = { from: '2026-11-02', to: '2026-11-02', now: new Date('2026-11-03T00:00:00Z') } as const;
const ENDPOINT = {
  region: 'us-east-1',
  instanceType: 'ml.g4dn.xlarge',
  instances: 1,
  instancePriceUsd: '0.72',
} as const;

interface RowSpec {
  readonly at: string;
  readonly nano: Partial<Record<CostComponent, number>>;
  readonly busyMs: number | null;
  readonly platform?: LedgerPlatform;
  readonly tenantId?: string;
  readonly chatId?: string;
  readonly userId?: string;
}

/** A ledger row with only what the report reads. */
function row(spec: RowSpec): ReportRow {
  const componentsNanoUsd = Object.fromEntries(COST_COMPONENTS.map((c) => [c, spec.nano[c] ?? 0])) as Record<
    CostComponent,
    number
  >;
  return {
    invocationId: `inv-${spec.at}-${spec.chatId ?? 'C1'}-${spec.userId ?? 'U1'}`,
    platform: spec.platform ?? 'slack',
    tenantId: spec.tenantId ?? 'T1',
    chatId: spec.chatId ?? 'C1',
    userId: spec.userId ?? 'U1',
    day: spec.at.slice(0, 10),
    at: spec.at,
    expiresAt: 2_000_000_000,
    cached: spec.busyMs === null,
    tokens: { prompt: 10, completion: 5, total: 15 },
    usage: { sagemaker: spec.busyMs === null ? null : { busyMs: spec.busyMs } } as ReportRow['usage'],
    componentsNanoUsd,
    totalNanoUsd: COST_COMPONENTS.reduce((t, c) => t + componentsNanoUsd[c], 0),
  };
}

describe('table: every component visible, exact, in a unit the header names', () => {
  // One invocation as the sandbox ledger records one: each request-path component is a few µUSD.
  const one = row({
    at: '2026-11-02T09:10:00.000Z',
    // A voice message: Transcribe's 15 s minimum at $0.024 a minute.
    nano: {
      apiGateway: 3_500,
      lambda: 5_917,
      sqs: 1_500,
      dynamodb: 3_938,
      logs: 931,
      sagemaker: 17_183,
      voice: 6_000_000,
    },
    busyMs: 84,
  });
  const report = buildCostReport([one], { ...DAY, ...ENDPOINT, by: 'group' });
  const text = renderTable(report);
  const lines = text.split('\n');

  test('the group line shows each component to the nano-dollar, none as zero', () => {
    const cells = lines.find((l) => l.startsWith('slack#T1#C1'))?.split(/ {2,}/) ?? [];
    // marginal 3,500 + 5,917 + 1,500 + 3,938 + 931 + 17,183 + 6,000,000 = 6,032,969 nano; the hour bills $0.72 and
    // this is its only invocation: idle share 720,000,000 - 17,183 = 719,982,817; amortised 6,032,969 + 719,982,817.
    expect(cells.slice(6)).toEqual([
      '3.500',
      '5.917',
      '1.500',
      '3.938',
      '0.931',
      '17.183',
      '6,000.000',
      '6,032.969',
      '719,982.817',
      '726,015.786',
    ]);
  });

  test('the header and a units row say µUSD for every money column, and the title says what µUSD is', () => {
    const headerAt = lines.findIndex((l) => l.startsWith('GROUP'));
    expect(lines[headerAt]?.split(/ {2,}/).slice(6)).toEqual([
      'apiGateway',
      'lambda',
      'sqs',
      'dynamodb',
      'logs',
      'sagemaker',
      'voice',
      'marginal',
      'idle share',
      'amortised',
    ]);
    expect(lines[headerAt + 1]?.trim().split(/ +/)).toEqual(Array(10).fill('µUSD'));
    expect(text).toContain('Amounts in µUSD (micro-dollars: 1,000,000 µUSD = $1), exact to the nano-dollar.');
  });

  test('the reconciliation below is exact too: 24 h at $0.72, 23 of them without invocations', () => {
    expect(text).toContain('Endpoint bill: 24.00 instance-hours = 17,280,000.000 µUSD ($17.28).');
    expect(text).toContain('Idle endpoint hours without invocations (in no line above): 16,560,000.000 µUSD.');
    // 726,015,786 + 16,560,000,000
    expect(text).toContain(
      'Grand total (TOTAL amortised + idle hours without invocations): 17,286,015.786 µUSD ($17.29).',
    );
  });
});

describe('CSV: platform, tenant and group (or user) in their own columns', () => {
  const at = '2026-11-02T09:10:00.000Z';
  const nano = { apiGateway: 3_500, sagemaker: 1_000 };
  // Ids with the key's own escape characters: a naive split on '#' or a one-way unescape would mangle them.
  const rows = [
    row({ at, nano, busyMs: 10, chatId: 'C#ops' }),
    row({ at, nano, busyMs: 10, tenantId: '100%', chatId: 'a%23b#c%25', userId: 'U#1%' }),
    row({ at, nano, busyMs: 10, platform: 'api', tenantId: 'svc-finance', chatId: 'ledger', userId: 'alice' }),
    row({ at, nano, busyMs: 10, platform: 'feishu', tenantId: 'tenant', chatId: '=SUM(A1)' }),
  ];
  const csv = (by: 'group' | 'user' | 'day' | 'platform') =>
    parseCsv(renderCsv(buildCostReport(rows, { ...DAY, ...ENDPOINT, by })));

  test('by group: each id exactly as the platform sent it', () => {
    const records = csv('group');
    expect(records[0]?.slice(0, 4)).toEqual(['platform', 'tenant', 'group', 'invocations']);
    expect(records.slice(1, 5).map((r) => r.slice(0, 4))).toEqual([
      ['api', 'svc-finance', 'ledger', '1'],
      // A leading '=' is neutralised so a spreadsheet shows the id instead of running it.
      ['feishu', 'tenant', "'=SUM(A1)", '1'],
      ['slack', '100%', 'a%23b#c%25', '1'],
      ['slack', 'T1', 'C#ops', '1'],
    ]);
    expect(records.slice(5).map((r) => r.slice(0, 4))).toEqual([
      ['TOTAL', '', '', '4'],
      ['IDLE HOURS WITHOUT INVOCATIONS', '', '', '0'],
      ['GRAND TOTAL', '', '', '4'],
    ]);
  });

  test('by user: platform, tenant, user', () => {
    const records = csv('user');
    expect(records[0]?.slice(0, 3)).toEqual(['platform', 'tenant', 'user']);
    expect(records.slice(1, 5).map((r) => r.slice(0, 3))).toEqual([
      ['api', 'svc-finance', 'alice'],
      ['feishu', 'tenant', 'U1'],
      ['slack', '100%', 'U#1%'],
      ['slack', 'T1', 'U1'],
    ]);
  });

  test('by day and by platform keep a single key column', () => {
    expect(csv('day').map((r) => r[0])).toEqual([
      'day',
      '2026-11-02',
      'TOTAL',
      'IDLE HOURS WITHOUT INVOCATIONS',
      'GRAND TOTAL',
    ]);
    expect(csv('platform')[0]?.slice(0, 2)).toEqual(['platform', 'invocations']);
    expect(
      csv('platform')
        .slice(1, 4)
        .map((r) => r[0]),
    ).toEqual(['api', 'feishu', 'slack']);
  });
});

describe('HTML: the per-invocation headline is the TOTAL row’s amortised per call', () => {
  // $0.72/h; the hour's two invocations carry all of it (split 1:3 by busy time), plus 50 nano of API Gateway.
  const rows = [
    row({ at: '2026-11-02T09:10:00.000Z', nano: { apiGateway: 50, sagemaker: 200_000 }, busyMs: 1000 }),
    row({ at: '2026-11-02T09:40:00.000Z', nano: { sagemaker: 600_000 }, busyMs: 3000, chatId: 'C2' }),
  ];
  const html = renderHtml(buildCostReport(rows, { ...DAY, ...ENDPOINT, by: 'group' }));
  const tile = /<span>Per invocation, amortised \(µUSD\)<\/span><b>([^<]*)<\/b><small>([^<]*)<\/small>/.exec(html);
  const totalRow = /<tfoot><tr>(.*?)<\/tr><\/tfoot>/.exec(html)?.[1] ?? '';
  const totalCells = [...totalRow.matchAll(/<th[^>]*>([^<]*)<\/th>/g)].map((m) => m[1]);

  test('both are (720,000,000 + 50) / 2 nano-dollars, in the same unit and digits', () => {
    expect(tile?.[1]).toBe('360,000.025');
    expect(totalCells[0]).toBe('TOTAL');
    expect(totalCells[totalCells.length - 1]).toBe('360,000.025');
    expect(html).toContain('<th>amortised per call (µUSD)</th>');
  });

  test('the other two per-invocation figures are there, each named', () => {
    // marginal (200,050 + 600,000) / 2; with the 23 idle hours: (24 x 720,000,000 + 50) / 2
    expect(tile?.[2]).toBe(
      "the TOTAL row's amortised per call: marginal + idle share of hours with calls. " +
        'Marginal only 400.025; with idle hours without calls 8,640,000.025',
    );
  });
});

describe('a period without traffic says its cost assumes the endpoint ran the whole period', () => {
  const november = { from: '2026-11-01', to: '2026-11-30', ...ENDPOINT, by: 'group' } as const;
  const sentence = (window: string, soFar = '') =>
    'No invocations in this period: all of its cost is idle endpoint time, which assumes the endpoint ' +
    `(1 x ml.g4dn.xlarge) ran for the whole period${soFar}, ${window}. ` +
    'If it was deleted or scaled to zero for part of that time, the real cost is lower.';

  test('a past month: 720 h, in the JSON, the table, the HTML and, as the idle row, the CSV', () => {
    const report = buildCostReport([], { ...november, now: new Date('2026-12-04T10:00:00Z') });
    const note = sentence('720 h from 2026-11-01 00:00 UTC to 2026-12-01 00:00 UTC');
    expect(report.notes).toEqual([note]);
    expect((JSON.parse(renderJson(report)) as CostReport).notes).toEqual([note]);
    expect(renderTable(report)).toContain(`NOTE: ${note}`);
    expect(renderHtml(report)).toContain(`<p class="note">${note}</p>`);
    const idle = parseCsv(renderCsv(report)).find((r) => r[0] === 'IDLE HOURS WITHOUT INVOCATIONS');
    expect(idle?.[16]).toBe('518.400000000'); // 720 h x $0.72
  });

  test('a month still running: the hours so far, up to the report time', () => {
    const report = buildCostReport([], { ...november, now: new Date('2026-11-03T12:00:00Z') });
    expect(report.notes).toEqual([
      sentence(
        '60 h from 2026-11-01 00:00 UTC to 2026-11-03 12:00 UTC',
        ' so far (the rest of it is after the report time)',
      ),
    ]);
    expect(report.billedInstanceHours).toBe(60);
  });

  test('a period that has not started bills nothing and says so', () => {
    const report = buildCostReport([], { ...november, now: new Date('2026-10-15T00:00:00Z') });
    expect(report.notes).toEqual([
      'No invocations: the period starts after the report time, so nothing is billed yet.',
    ]);
    expect(report.grandTotalNanoUsd).toBe(0);
  });

  test('a period with traffic has no such note, but still states the window it assumed', () => {
    const report = buildCostReport([row({ at: '2026-11-02T09:10:00.000Z', nano: { sqs: 500 }, busyMs: 5 })], {
      ...november,
      now: new Date('2026-12-04T10:00:00Z'),
    });
    expect(report.notes).toEqual([]);
    expect(renderTable(report)).not.toContain('NOTE:');
    expect(renderTable(report)).toContain(
      'Endpoint assumed running: 1 x ml.g4dn.xlarge, 720 h from 2026-11-01 00:00 UTC to 2026-12-01 00:00 UTC',
    );
  });
});
