import { ValidationError } from '#core/errors';
import { parseReportArgs } from '../../../tools/cost-report/args';
import { buildCostReport } from '../../../tools/cost-report/build';
import { type CostReportDeps, runCostReport } from '../../../tools/cost-report/cli';
import { renderHtml } from '../../../tools/cost-report/html';
import { CSV_SUMMARY_LABELS, renderCsv, renderJson, renderTable } from '../../../tools/cost-report/render';
import type { ReportRow } from '../../../tools/cost-report/source';
import { parseCsv } from './parse-csv';

/** Shanghai office hours: 01:00–10:00 UTC on weekdays (no daylight saving). */
const SCHEDULE = { timeZone: 'Asia/Shanghai', openDays: 'MON-FRI', opensAt: '09:00', closesAt: '18:00' };
const WEEK = {
  from: '2026-11-02', // a Monday
  to: '2026-11-08',
  by: 'group',
  now: new Date('2026-11-20T00:00:00Z'),
  region: 'us-east-1',
  instanceType: 'ml.g4dn.xlarge',
  instancePriceUsd: '0.7364',
} as const;

function row(at: string, source: ReportRow['modelSource'], cached = false): ReportRow {
  const sagemaker = source === 'primary' || (source === undefined && !cached) ? 1_000_000 : 0;
  return {
    invocationId: `inv-${at}-${source}`,
    platform: 'slack',
    tenantId: 'T1',
    chatId: 'c1',
    userId: 'U1',
    day: at.slice(0, 10),
    at,
    expiresAt: 2_000_000_000,
    cached,
    ...(source ? { modelSource: source } : {}),
    tokens: { prompt: 10, completion: 5, total: 15 },
    usage: { sagemaker: sagemaker ? { instanceType: 'ml.g4dn.xlarge', busyMs: 1000 } : null } as ReportRow['usage'],
    componentsNanoUsd: { apiGateway: 0, lambda: 0, sqs: 0, dynamodb: 0, logs: 0, sagemaker, voice: 0 },
    totalNanoUsd: sagemaker,
  };
}

const ROWS: ReportRow[] = [
  row('2026-11-03T04:00:00.000Z', 'primary'), // business hours: changes nothing
  row('2026-11-03T05:00:00.000Z', 'fallback'), // business hours: an outage, not a wake
  row('2026-11-07T03:20:00.000Z', 'primary'), // Saturday: awake 03:00–04:30
  row('2026-11-08T05:00:00.000Z', 'fallback'), // Sunday, the fallback answered while it woke: awake 05:00–05:45
  row('2026-11-08T07:00:00.000Z', undefined, true), // a cache hit: no model at all
  row('2026-11-08T08:00:00.000Z', 'fallback', true), // a cached fallback answer: no model either
];

describe('the saving of closed hours', () => {
  // 168 h − 5 × 9 h open = 123 h closed; awake (idle 15 min + the 15-minute low-traffic window): 5 closings × 30 min
  // + the Saturday answer's 1 h 30 min + the Sunday wake's 45 min = 4.75 h.
  const report = buildCostReport(ROWS, { ...WEEK, instances: 2, scaleToZero: { ...SCHEDULE, idleMinutes: 15 } });

  it('is closed hours less awake hours, × instances × price, exactly', () => {
    expect(report.scaleToZero).toMatchObject({
      closedHours: 123,
      awakeHours: 4.75,
      asleepHours: 118.25,
      instances: 2,
      savedInstanceHours: 236.5,
      // 236.5 × $0.7364
      savedNanoUsd: 174_158_600_000,
      savedUsd: 174.1586,
    });
    expect(report.scaleToZero?.rule).toMatch(/primary model answered.*answer by the fallback model \(a wake\)/);
  });

  it('counts each closed-hours fallback answer as a wake, which lowers the saving', () => {
    const withoutWake = buildCostReport(
      ROWS.filter((r) => r.at !== '2026-11-08T05:00:00.000Z'),
      { ...WEEK, instances: 2, scaleToZero: { ...SCHEDULE, idleMinutes: 15 } },
    );
    expect(withoutWake.scaleToZero?.awakeHours).toBe(4);
    expect(report.scaleToZero?.savedNanoUsd).toBeLessThan(withoutWake.scaleToZero?.savedNanoUsd ?? 0);
  });

  it('leaves the always-on bill and its totals as they were', () => {
    const alwaysOn = buildCostReport(ROWS, { ...WEEK, instances: 2 });
    expect(alwaysOn.scaleToZero).toBeUndefined();
    expect(report.endpointBillNanoUsd).toBe(alwaysOn.endpointBillNanoUsd);
    expect(report.grandTotalNanoUsd).toBe(alwaysOn.grandTotalNanoUsd);
  });

  it('counts primary rows written before modelSource existed as primary answers', () => {
    const legacy = buildCostReport([row('2026-11-07T03:20:00.000Z', undefined)], {
      ...WEEK,
      instances: 1,
      scaleToZero: { ...SCHEDULE, idleMinutes: 15 },
    });
    expect(legacy.scaleToZero?.awakeHours).toBe(4);
  });

  it('is shown by every rendering', () => {
    expect(renderTable(report)).toContain(
      'Scale to zero (MON-FRI 09:00–18:00 Asia/Shanghai, idle 15 min): 123 closed hours, 4.75 of them awake, ' +
        '118.25 asleep; saved 236.5 instance-hours = 174,158,600.000 µUSD ($174.16) against an always-on endpoint',
    );
    const records = parseCsv(renderCsv(report));
    const header = records[0] ?? [];
    const saving = records.find((r) => r[0] === CSV_SUMMARY_LABELS.scaleToZeroSaving);
    expect(saving?.[header.indexOf('amortised_usd')]).toBe('174.158600000');
    expect(saving?.[header.indexOf('invocations')]).toBe('0');
    expect(JSON.parse(renderJson(report)).scaleToZero).toMatchObject({ savedNanoUsd: 174_158_600_000 });
    expect(renderHtml(report)).toMatch(/<p class="saving">Scale to zero \(MON-FRI[^<]*\$174\.16 against/);
  });

  it('is absent from every rendering without a schedule', () => {
    const alwaysOn = buildCostReport(ROWS, { ...WEEK, instances: 2 });
    expect(renderTable(alwaysOn)).not.toContain('Scale to zero');
    expect(renderCsv(alwaysOn)).not.toContain(CSV_SUMMARY_LABELS.scaleToZeroSaving);
    expect(JSON.parse(renderJson(alwaysOn)).scaleToZero).toBeUndefined();
    expect(renderHtml(alwaysOn)).not.toContain('class="saving"');
  });
});

describe('--scale-to-zero', () => {
  const base = ['--from', '2026-11-02', '--to', '2026-11-08', '--source', 'sandbox'];

  it('takes the JSON the stack prints, with the same defaults as the CDK key', () => {
    const args = parseReportArgs([...base, '--scale-to-zero', JSON.stringify(SCHEDULE)]);
    expect(args.scaleToZero).toEqual({ ...SCHEDULE, idleMinutes: 15 });
    expect(parseReportArgs(base).scaleToZero).toBeUndefined();
  });

  it.each([
    ['{not json', /--scale-to-zero: .* is not JSON/],
    [JSON.stringify({ ...SCHEDULE, timeZone: 'Asia/Nowhere' }), /--scale-to-zero\.timeZone: must be an IANA time zone/],
    [JSON.stringify({ ...SCHEDULE, opensAt: '18:00', closesAt: '09:00' }), /--scale-to-zero\.closesAt: must be after/],
    [JSON.stringify({ ...SCHEDULE, days: 'MON' }), /--scale-to-zero: .*unknown key days/],
  ])('refuses %s', (json, message) => {
    expect(() => parseReportArgs([...base, '--scale-to-zero', json])).toThrow(ValidationError);
    expect(() => parseReportArgs([...base, '--scale-to-zero', json])).toThrow(message);
  });

  it('runs end to end from the sandbox ledger', async () => {
    let stdout = '';
    const deps: CostReportDeps = {
      env: {},
      now: () => WEEK.now,
      documentClient: () => {
        throw new Error('not used');
      },
      fetch: async () => new Response(JSON.stringify(ROWS), { headers: { 'content-type': 'application/json' } }),
      stdout: (text) => {
        stdout += text;
      },
      stderr: () => undefined,
    };
    const argv = [
      ...base,
      '--format',
      'json',
      '--instance-price',
      '0.7364',
      '--scale-to-zero',
      JSON.stringify(SCHEDULE),
    ];
    expect(await runCostReport(argv, deps)).toBe(0);
    expect(JSON.parse(stdout).scaleToZero).toMatchObject({ closedHours: 123, asleepHours: 118.25, savedUsd: 87.0793 });
  });
});
