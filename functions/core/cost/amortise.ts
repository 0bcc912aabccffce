import { ValidationError } from '#core/errors';
import { fromDecimal, gcd, mul, nanoToUsd, type Ratio, toNano } from './exact';

/** The fields of a ledger row that amortisation reads (a `LedgerRow` satisfies it). */
export interface AmortisableRow {
  readonly invocationId: string;
  /** ISO-8601 time of the invocation; its UTC hour is the billing hour it belongs to. */
  readonly at: string;
  readonly usage: { readonly sagemaker: { readonly busyMs: number } | null };
  readonly componentsNanoUsd: { readonly sagemaker: number };
  readonly totalNanoUsd: number;
}

/** One endpoint's bill: price × instances, per UTC hour. */
export interface EndpointHours {
  /** USD per instance-hour of the endpoint's instance type (e.g. `"0.7364"` for ml.g4dn.xlarge in us-east-1). */
  readonly pricePerInstanceHourUsd: string | number;
  /**
   * Instances billed in each UTC hour, keyed `YYYY-MM-DDTHH` (e.g. `2026-11-25T09`); fractional when the
   * endpoint scaled within the hour (1.5 = one instance all hour plus one for half of it).
   */
  readonly instanceCountByHour: Readonly<Record<string, number>>;
}

export interface AmortisedFields {
  readonly hour: string;
  /** The row's marginal SageMaker cost plus its share of the hour's idle (unattributed) endpoint time. */
  readonly sagemakerAmortisedUsd: number;
  readonly sagemakerAmortisedNanoUsd: number;
  /** The row's total with the SageMaker component replaced by its amortised value. */
  readonly totalAmortisedUsd: number;
  readonly totalAmortisedNanoUsd: number;
}

export interface HourSummary {
  readonly hour: string;
  readonly instanceCount: number;
  readonly invocations: number;
  /** `instanceCount × price`, rounded half-up to whole nano-dollars: the hour's share of the endpoint bill. */
  readonly billNanoUsd: number;
  readonly marginalNanoUsd: number;
  /** `bill − Σ marginal`; negative when concurrent calls' busy time exceeds the instance time billed. */
  readonly unattributedNanoUsd: number;
}

export interface AmortisationResult<T extends AmortisableRow> {
  /** The input rows, in input order, each with its amortised fields. */
  readonly rows: readonly (T & AmortisedFields)[];
  readonly hours: readonly HourSummary[];
  /** Hours the endpoint was billed with no invocation at all: nobody to attribute them to, reported so nothing is lost. */
  readonly idleUnattributed: readonly { readonly hour: string; readonly usd: number; readonly nanoUsd: number }[];
  readonly idleUnattributedUsd: number;
  readonly idleUnattributedNanoUsd: number;
  /** Σ hourly bills. Invariant (tested): Σ rows' sagemakerAmortisedNanoUsd + idleUnattributedNanoUsd === this. */
  readonly endpointBillUsd: number;
  readonly endpointBillNanoUsd: number;
}

function hourOf(row: AmortisableRow): string {
  const time = new Date(row.at);
  if (Number.isNaN(time.getTime())) {
    throw new ValidationError(`ledger row ${row.invocationId} has an invalid time: ${JSON.stringify(row.at)}`);
  }
  return time.toISOString().slice(0, 13);
}

function lcm(a: bigint, b: bigint): bigint {
  return (a / gcd(a, b)) * b;
}

/**
 * Splits `amount` integer nano-dollars over `weights` in proportion, exactly (largest-remainder method:
 * floor each share, then hand the leftover nano-dollars to the largest remainders, earlier rows first on ties).
 * All-zero weights split equally. The shares always sum to `amount`.
 */
export function apportion(amount: bigint, weights: readonly Ratio[]): bigint[] {
  if (weights.length === 0) return [];
  const scale = weights.reduce((l, w) => lcm(l, w.d), 1n);
  let ints = weights.map((w) => (w.n * scale) / w.d);
  let total = ints.reduce((a, b) => a + b, 0n);
  if (total === 0n) {
    ints = weights.map(() => 1n);
    total = BigInt(weights.length);
  }
  const negative = amount < 0n;
  const abs = negative ? -amount : amount;
  const shares = ints.map((w) => (abs * w) / total);
  const remainders = ints.map((w, i) => ({ i, r: (abs * w) % total }));
  let left = abs - shares.reduce((a, b) => a + b, 0n);
  remainders.sort((a, b) => (a.r === b.r ? a.i - b.i : a.r > b.r ? -1 : 1));
  for (const { i } of remainders) {
    if (left === 0n) break;
    shares[i] = (shares[i] ?? 0n) + 1n;
    left -= 1n;
  }
  return negative ? shares.map((s) => -s) : shares;
}

/**
 * Spreads a real-time endpoint's bill over the invocations it served. An endpoint bills every instance-hour,
 * busy or idle; each row's ledger cost only holds its busy time (`marginal`). For each UTC hour, the
 * unattributed cost (instance-hours × price − Σ marginal SageMaker cost of that hour's rows) is shared among
 * that hour's rows in proportion to their busy time, or equally when every busy time is 0 (e.g. all cache hits:
 * the endpoint still had to be up for them). Hours with no rows are reported as `idleUnattributed`.
 *
 * Pass the rows of one endpoint only. Throws `ValidationError` if a row's hour has no instance count.
 */
export function amortiseIdleEndpointCost<T extends AmortisableRow>(
  rows: readonly T[],
  endpoint: EndpointHours,
): AmortisationResult<T> {
  const price = fromDecimal(endpoint.pricePerInstanceHourUsd);
  const byHour = new Map<string, number[]>();
  rows.forEach((row, index) => {
    const hour = hourOf(row);
    const indices = byHour.get(hour);
    if (indices) indices.push(index);
    else byHour.set(hour, [index]);
  });

  const problems: string[] = [];
  for (const [hour, count] of Object.entries(endpoint.instanceCountByHour)) {
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}$/.test(hour)) problems.push(`hour key ${hour} is not YYYY-MM-DDTHH`);
    if (!Number.isFinite(count) || count < 0) problems.push(`instance count for ${hour} must be >= 0, got ${count}`);
  }
  for (const hour of byHour.keys()) {
    if (endpoint.instanceCountByHour[hour] === undefined) problems.push(`no instance count for hour ${hour}`);
  }
  if (problems.length > 0) throw new ValidationError(`Cannot amortise endpoint cost: ${problems.join('; ')}`);

  const amortisedNano = new Map<number, bigint>();
  const hours: HourSummary[] = [];
  const idleUnattributed: { hour: string; usd: number; nanoUsd: number }[] = [];
  let billTotal = 0n;
  let idleTotal = 0n;

  for (const hour of Object.keys(endpoint.instanceCountByHour).sort()) {
    const instanceCount = endpoint.instanceCountByHour[hour] ?? 0;
    const bill = toNano(mul(fromDecimal(instanceCount), price));
    billTotal += bill;
    const indices = byHour.get(hour) ?? [];
    const marginals = indices.map((i) => BigInt(rows[i]?.componentsNanoUsd.sagemaker ?? 0));
    const marginal = marginals.reduce((a, b) => a + b, 0n);
    const unattributed = bill - marginal;
    hours.push({
      hour,
      instanceCount,
      invocations: indices.length,
      billNanoUsd: Number(bill),
      marginalNanoUsd: Number(marginal),
      unattributedNanoUsd: Number(unattributed),
    });
    if (indices.length === 0) {
      idleTotal += bill;
      idleUnattributed.push({ hour, usd: nanoToUsd(bill), nanoUsd: Number(bill) });
      continue;
    }
    const weights = indices.map((i) => fromDecimal(rows[i]?.usage.sagemaker?.busyMs ?? 0));
    const shares = apportion(unattributed, weights);
    indices.forEach((rowIndex, k) => {
      amortisedNano.set(rowIndex, (marginals[k] ?? 0n) + (shares[k] ?? 0n));
    });
  }

  const amortisedRows = rows.map((row, index) => {
    const sagemaker = amortisedNano.get(index) ?? 0n;
    const total = BigInt(row.totalNanoUsd) - BigInt(row.componentsNanoUsd.sagemaker) + sagemaker;
    return {
      ...row,
      hour: hourOf(row),
      sagemakerAmortisedUsd: nanoToUsd(sagemaker),
      sagemakerAmortisedNanoUsd: Number(sagemaker),
      totalAmortisedUsd: nanoToUsd(total),
      totalAmortisedNanoUsd: Number(total),
    };
  });

  return {
    rows: amortisedRows,
    hours,
    idleUnattributed,
    idleUnattributedUsd: nanoToUsd(idleTotal),
    idleUnattributedNanoUsd: Number(idleTotal),
    endpointBillUsd: nanoToUsd(billTotal),
    endpointBillNanoUsd: Number(billTotal),
  };
}
