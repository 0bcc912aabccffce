import { type AmortisableRow, amortiseIdleEndpointCost, apportion } from '#core/cost/amortise';
import { costOfInvocation } from '#core/cost/cost-model';
import { fromDecimal, mul, ratio, toNano } from '#core/cost/exact';
import { resolvePrices } from '#core/cost/prices';
import { ValidationError } from '#core/errors';
import { usage } from './usage-fixture';

const PRICE = '0.7364';
const HOUR_BILL = 736_400_000;
const prices = resolvePrices('us-east-1');

function row(id: string, at: string, busyMs: number | null): AmortisableRow & { id: string } {
  const u = usage({ sagemaker: busyMs === null ? null : { instanceType: 'ml.g4dn.xlarge', busyMs } });
  const b = costOfInvocation(u, prices);
  return { id, invocationId: id, at, usage: u, componentsNanoUsd: b.componentsNanoUsd, totalNanoUsd: b.totalNanoUsd };
}

const sumOf = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

describe('apportion', () => {
  it('splits exactly in proportion, leftovers to the largest remainders, earlier first on ties', () => {
    expect(apportion(10n, [ratio(1n), ratio(1n), ratio(1n)])).toEqual([4n, 3n, 3n]);
    expect(apportion(100n, [ratio(1n), ratio(3n)])).toEqual([25n, 75n]);
    expect(apportion(7n, [fromDecimal('0.5'), fromDecimal('1.25')])).toEqual([2n, 5n]);
    expect(apportion(-10n, [ratio(1n), ratio(1n), ratio(1n)])).toEqual([-4n, -3n, -3n]);
    expect(apportion(5n, [ratio(0n), ratio(0n)])).toEqual([3n, 2n]);
    expect(apportion(5n, [])).toEqual([]);
  });
});

describe('amortiseIdleEndpointCost', () => {
  it('spreads an hour’s unattributed cost by busy time, conserving the hour’s bill exactly', () => {
    const rows = [row('a', '2026-11-25T09:05:00.000Z', 1000), row('b', '2026-11-25T09:40:00.000Z', 3000)];
    const result = amortiseIdleEndpointCost(rows, {
      pricePerInstanceHourUsd: PRICE,
      instanceCountByHour: { '2026-11-25T09': 1 },
    });
    const [a, b] = result.rows;
    expect(a?.id).toBe('a');
    expect(sumOf(result.rows.map((r) => r.sagemakerAmortisedNanoUsd))).toBe(HOUR_BILL);
    expect(a?.sagemakerAmortisedNanoUsd).toBe(184_100_000); // a quarter of the bill
    expect(b?.sagemakerAmortisedNanoUsd).toBe(552_300_000);
    expect(a?.sagemakerAmortisedUsd).toBe(0.1841);
    expect(a?.totalAmortisedNanoUsd).toBe(
      (rows[0]?.totalNanoUsd ?? 0) - (rows[0]?.componentsNanoUsd.sagemaker ?? 0) + 184_100_000,
    );
    expect(result.hours).toEqual([
      expect.objectContaining({ hour: '2026-11-25T09', invocations: 2, billNanoUsd: HOUR_BILL }),
    ]);
    expect(result.idleUnattributed).toEqual([]);
  });

  it('splits equally when nobody used the endpoint (all cache hits), to the nano-dollar', () => {
    const rows = ['x', 'y', 'z'].map((id) => row(id, '2026-11-25T10:00:00Z', null));
    const result = amortiseIdleEndpointCost(rows, {
      pricePerInstanceHourUsd: PRICE,
      instanceCountByHour: { '2026-11-25T10': 1 },
    });
    expect(result.rows.map((r) => r.sagemakerAmortisedNanoUsd)).toEqual([245_466_667, 245_466_667, 245_466_666]);
  });

  it('keeps the hour conserved when concurrent calls’ busy time exceeds the billed instance time', () => {
    const rows = [row('p', '2026-11-25T11:10:00Z', 3_600_000), row('q', '2026-11-25T11:20:00Z', 3_600_000)];
    const result = amortiseIdleEndpointCost(rows, {
      pricePerInstanceHourUsd: PRICE,
      instanceCountByHour: { '2026-11-25T11': 1 },
    });
    expect(result.hours[0]?.unattributedNanoUsd).toBe(-HOUR_BILL);
    expect(result.rows.map((r) => r.sagemakerAmortisedNanoUsd)).toEqual([HOUR_BILL / 2, HOUR_BILL / 2]);
  });

  it('reports hours with no invocations as idle, so Σ amortised over a month == the endpoint bill', () => {
    const rows: ReturnType<typeof row>[] = [];
    const instanceCountByHour: Record<string, number> = {};
    let expectedBill = 0n;
    for (let day = 1; day <= 30; day += 1) {
      for (let h = 0; h < 24; h += 1) {
        const hour = `2026-11-${String(day).padStart(2, '0')}T${String(h).padStart(2, '0')}`;
        const count = [1, 1, 2, 1.5, 0, 3][(day + h) % 6] ?? 1;
        instanceCountByHour[hour] = count;
        expectedBill += toNano(mul(fromDecimal(count), fromDecimal(PRICE)));
        const calls = (day * 7 + h * 3) % 5; // some hours have none
        for (let k = 0; k < calls; k += 1) {
          const busy = k === 2 ? null : ((day * 131 + h * 17 + k * 7) % 9000) + 0.5;
          rows.push(row(`${hour}-${k}`, `${hour}:${String(k * 11).padStart(2, '0')}:00.000Z`, busy));
        }
      }
    }
    const result = amortiseIdleEndpointCost(rows, { pricePerInstanceHourUsd: PRICE, instanceCountByHour });
    const amortised = sumOf(result.rows.map((r) => r.sagemakerAmortisedNanoUsd));
    expect(result.endpointBillNanoUsd).toBe(Number(expectedBill));
    expect(amortised + result.idleUnattributedNanoUsd).toBe(result.endpointBillNanoUsd);
    expect(result.idleUnattributed.length).toBeGreaterThan(0);
    expect(sumOf(result.idleUnattributed.map((i) => i.nanoUsd))).toBe(result.idleUnattributedNanoUsd);
    for (const h of result.hours) {
      const inHour = result.rows.filter((r) => r.hour === h.hour);
      if (inHour.length > 0) expect(sumOf(inHour.map((r) => r.sagemakerAmortisedNanoUsd))).toBe(h.billNanoUsd);
    }
  });

  it('rejects rows whose hour has no instance count, bad hour keys, bad counts and bad times', () => {
    const r = row('a', '2026-11-25T09:05:00Z', 10);
    const run = (rows: AmortisableRow[], instanceCountByHour: Record<string, number>) => () =>
      amortiseIdleEndpointCost(rows, { pricePerInstanceHourUsd: PRICE, instanceCountByHour });
    expect(run([r], {})).toThrow(/no instance count for hour 2026-11-25T09/);
    expect(run([], { '2026-11-25 09': 1 })).toThrow(ValidationError);
    expect(run([], { '2026-11-25T09': -1 })).toThrow(/must be >= 0/);
    expect(run([{ ...r, at: 'yesterday' }], { '2026-11-25T09': 1 })).toThrow(/invalid time/);
  });
});
