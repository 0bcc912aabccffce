import { COST_COMPONENTS } from '#core/cost/cost-model';
import { ValidationError } from '#core/errors';
import { billedHours, buildCostReport, endpointPrice } from '../../../tools/cost-report/build';
import type { ReportRow } from '../../../tools/cost-report/source';
import { makeLedger } from './make-ledger';

const ledger = makeLedger({ invocations: 1000, groups: 20, from: '2026-11-01', days: 30 });
const MONTH = {
  from: '2026-11-01',
  to: '2026-11-30',
  now: new Date('2026-12-01T00:00:00Z'),
  region: 'us-east-1',
  instanceType: 'ml.g4dn.xlarge',
  instances: 1,
} as const;

/** A hand-made row: only what the report reads. */
function row(at: string, busyMs: number | null, sagemakerNano: number, otherNano = 0, chatId = 'c1'): ReportRow {
  const componentsNanoUsd = {
    apiGateway: otherNano,
    lambda: 0,
    sqs: 0,
    dynamodb: 0,
    logs: 0,
    sagemaker: sagemakerNano,
    voice: 0,
  };
  return {
    invocationId: `inv-${at}`,
    platform: 'slack',
    tenantId: 'T1',
    chatId,
    userId: 'U1',
    day: at.slice(0, 10),
    at,
    expiresAt: 2_000_000_000,
    cached: busyMs === null,
    tokens: { prompt: 10, completion: 5, total: 15 },
    usage: { sagemaker: busyMs === null ? null : { instanceType: 'ml.g4dn.xlarge', busyMs } } as ReportRow['usage'],
    componentsNanoUsd,
    totalNanoUsd: sagemakerNano + otherNano,
  };
}

describe.each(['group', 'user', 'day', 'platform'] as const)('by %s', (by) => {
  const report = buildCostReport(ledger, { ...MONTH, by });

  test('the lines add up to the rows: invocations, tokens and every component, to the nano-dollar', () => {
    const expected = Object.fromEntries(COST_COMPONENTS.map((c) => [c, 0n]));
    for (const r of ledger)
      for (const c of COST_COMPONENTS) expected[c] = (expected[c] ?? 0n) + BigInt(r.componentsNanoUsd[c]);
    for (const c of COST_COMPONENTS) {
      expect(BigInt(report.totals.componentsNanoUsd[c])).toBe(expected[c]);
      expect(report.lines.reduce((t, l) => t + BigInt(l.componentsNanoUsd[c]), 0n)).toBe(expected[c]);
    }
    expect(report.totals.invocations).toBe(1000);
    expect(report.lines.reduce((t, l) => t + l.invocations, 0)).toBe(1000);
    expect(report.totals.tokens.total).toBe(ledger.reduce((t, r) => t + r.tokens.total, 0));
    expect(report.totals.marginalNanoUsd).toBe(ledger.reduce((t, r) => t + r.totalNanoUsd, 0));
  });

  test('nothing of the endpoint bill is lost: amortised lines + idle hours = request costs + the bill', () => {
    const requestPath = ledger.reduce((t, r) => t + r.totalNanoUsd - r.componentsNanoUsd.sagemaker, 0);
    // 30 days x 24 h x 1 instance x $0.7364
    expect(report.endpointBillNanoUsd).toBe(530_208_000_000);
    expect(report.totals.amortisedNanoUsd + report.idleUnattributedNanoUsd).toBe(requestPath + 530_208_000_000);
    expect(report.grandTotalNanoUsd).toBe(requestPath + 530_208_000_000);
    for (const l of report.lines) expect(l.amortisedNanoUsd).toBe(l.marginalNanoUsd + l.idleShareNanoUsd);
  });
});

test('the chart days cover the whole range and add up to the grand total', () => {
  const report = buildCostReport(ledger, { ...MONTH, by: 'group' });
  expect(report.days.map((d) => d.day)).toHaveLength(30);
  const charted = report.days.reduce(
    (t, d) => t + d.idleNanoUsd + COST_COMPONENTS.reduce((s, c) => s + d.componentsNanoUsd[c], 0),
    0,
  );
  expect(charted).toBe(report.grandTotalNanoUsd);
  expect(report.topGroups).toHaveLength(10);
  const amounts = report.topGroups.map((g) => g.amortisedNanoUsd);
  expect(amounts).toEqual([...amounts].sort((a, b) => b - a));
  expect(report.lines).toHaveLength(20);
});

test('a worked hour: idle time is split by busy time, empty hours stay unattributed', () => {
  // $0.72/h: 1000 ms busy = $0.0002 marginal, 3000 ms = $0.0006; the hour bills $0.72.
  const rows = [
    row('2026-11-02T09:10:00.000Z', 1000, 200_000, 50),
    row('2026-11-02T09:40:00.000Z', 3000, 600_000, 0, 'c2'),
  ];
  const report = buildCostReport(rows, {
    ...MONTH,
    from: '2026-11-02',
    to: '2026-11-02',
    by: 'group',
    instancePriceUsd: '0.72',
  });
  const [c1, c2] = report.lines;
  expect(c1?.key).toBe('slack#T1#c1');
  expect(c1?.marginalNanoUsd).toBe(200_050);
  // unattributed 720,000,000 - 800,000 = 719,200,000, shared 1:3
  expect(c1?.idleShareNanoUsd).toBe(179_800_000);
  expect(c1?.amortisedNanoUsd).toBe(180_000_050);
  expect(c2?.amortisedNanoUsd).toBe(540_000_000);
  expect(report.idleUnattributedNanoUsd).toBe(23 * 720_000_000);
  expect(report.days[0]?.idleNanoUsd).toBe(179_800_000 + 539_400_000 + 23 * 720_000_000);
  expect(report.endpoint.priceSource).toBe('--instance-price');
});

test('cache hits (no busy time) share an hour equally', () => {
  const rows = [row('2026-11-02T09:10:00.000Z', null, 0), row('2026-11-02T09:20:00.000Z', null, 0, 0, 'c2')];
  const report = buildCostReport(rows, {
    ...MONTH,
    from: '2026-11-02',
    to: '2026-11-02',
    by: 'group',
    instancePriceUsd: '1',
  });
  expect(report.lines.map((l) => l.amortisedNanoUsd)).toEqual([500_000_000, 500_000_000]);
});

test('only hours that have begun are billed; the running hour pro rata', () => {
  expect(billedHours(['2026-11-25'], 2, new Date('2026-11-25T08:30:00Z'), new Set())).toEqual({
    '2026-11-25T00': 2,
    '2026-11-25T01': 2,
    '2026-11-25T02': 2,
    '2026-11-25T03': 2,
    '2026-11-25T04': 2,
    '2026-11-25T05': 2,
    '2026-11-25T06': 2,
    '2026-11-25T07': 2,
    '2026-11-25T08': 1,
  });
  // A row stamped after `now` (clock skew) still gets its hour, billed in full.
  expect(billedHours(['2026-11-25'], 1, new Date('2026-11-25T00:00:00Z'), new Set(['2026-11-25T05']))).toEqual({
    '2026-11-25T05': 1,
  }); // The running hour is billed so far, whether or not it already holds rows.
  expect(billedHours(['2026-11-25'], 2, new Date('2026-11-25T00:15:00Z'), new Set(['2026-11-25T00']))).toEqual({
    '2026-11-25T00': 0.5,
  });
});

test('the billed instance-hours are the instances times the assumed running window, to the report time', () => {
  const report = buildCostReport([row('2026-11-25T09:10:00.000Z', 1000, 200_000)], {
    ...MONTH,
    from: '2026-11-25',
    to: '2026-11-26',
    by: 'group',
    instances: 2,
    now: new Date('2026-11-25T09:30:00Z'),
  });
  expect(report.endpoint).toMatchObject({
    assumedRunningFrom: '2026-11-25T00:00:00.000Z',
    assumedRunningUntil: '2026-11-25T09:30:00.000Z',
    assumedRunningHours: 9.5,
  });
  expect(report.billedInstanceHours).toBe(19);
  // 19 instance-hours x $0.7364
  expect(report.endpointBillNanoUsd).toBe(13_991_600_000);
});

test('instance price: regional table, us-east-1 fallback named, override, and an unknown type refused', () => {
  expect(endpointPrice({ region: 'us-east-1', instanceType: 'ml.g4dn.xlarge' }).usd).toBe('0.7364');
  const fallback = endpointPrice({ region: 'eu-west-1', instanceType: 'ml.g4dn.xlarge' });
  expect(fallback).toEqual({ usd: '0.7364', source: expect.stringContaining('us-east-1; none for eu-west-1') });
  expect(endpointPrice({ region: 'eu-west-1', instanceType: 'ml.g4dn.xlarge', instancePriceUsd: '0.822' }).usd).toBe(
    '0.822',
  );
  expect(() => endpointPrice({ region: 'us-east-1', instanceType: 'ml.p5.48xlarge' })).toThrow(ValidationError);
});

test('an empty ledger still shows the endpoint bill as idle time', () => {
  const report = buildCostReport([], { ...MONTH, from: '2026-11-01', to: '2026-11-01', by: 'day' });
  expect(report.lines).toEqual([]);
  expect(report.totals.invocations).toBe(0);
  expect(report.idleUnattributedNanoUsd).toBe(24 * 736_400_000);
  expect(report.grandTotalNanoUsd).toBe(24 * 736_400_000);
});

test('without an endpoint (--min-instances 0: an OpenAI-compatible primary) nothing is billed as idle time', () => {
  const rows = [row('2026-11-25T09:10:00.000Z', null, 0, 5_000), row('2026-11-25T11:00:00.000Z', null, 0, 7_000)];
  const report = buildCostReport(rows, { ...MONTH, from: '2026-11-25', to: '2026-11-25', by: 'group', instances: 0 });
  expect(report.billedInstanceHours).toBe(0);
  expect(report.endpointBillNanoUsd).toBe(0);
  expect(report.idleUnattributedNanoUsd).toBe(0);
  expect(report.grandTotalNanoUsd).toBe(12_000);
});

test('an invalid range is refused', () => {
  expect(() => buildCostReport([], { ...MONTH, from: '2026-11-30', to: '2026-11-01', by: 'day' })).toThrow(
    ValidationError,
  );
});

test('counts the answers the backup model wrote, per line and in total, from the ledger rows that say so', () => {
  const day = { ...MONTH, from: '2026-11-02', to: '2026-11-02', by: 'group' as const };
  const rows: ReportRow[] = [
    row('2026-11-02T09:00:00.000Z', 800, 1_000),
    { ...row('2026-11-02T09:01:00.000Z', null, 0, 50_000), cached: false, modelSource: 'fallback' },
    { ...row('2026-11-02T09:02:00.000Z', null, 0, 50_000, 'c2'), cached: false, modelSource: 'fallback' },
    { ...row('2026-11-02T09:03:00.000Z', 700, 900, 0, 'c2'), modelSource: 'primary' },
  ];
  const report = buildCostReport(rows, day);
  expect(report.lines.map((l) => [l.key, l.invocations, l.fallbackInvocations])).toEqual([
    [expect.stringContaining('c1'), 2, 1],
    [expect.stringContaining('c2'), 2, 1],
  ]);
  expect(report.totals.fallbackInvocations).toBe(2);
});
