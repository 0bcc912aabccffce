import { amortiseIdleEndpointCost } from '#core/cost/amortise';
import { AWAKE_RULE, closedHoursIn, type ScaleToZeroSchedule } from '#core/cost/closed-hours';
import {
  CONNECTOR_TASK,
  type ConnectorFleet,
  connectorCostNano,
  connectorMonthlyUsd,
  connectorRate,
} from '#core/cost/connector-cost';
import { COST_COMPONENTS, type ComponentAmounts, type CostComponent } from '#core/cost/cost-model';
import { fromDecimal, mul, nanoToUsd, ratio, toNano } from '#core/cost/exact';
import { type AggregateBy, aggregate, type LedgerAggregate } from '#core/cost/ledger-row';
import { BASE_REGION, PRICE_TABLE, PRICE_TABLE_VERSION } from '#core/cost/prices';
import { ValidationError } from '#core/errors';
import { daysBetween } from './args';
import type { ReportRow } from './source';

const HOUR_MS = 3_600_000;
const TOP_GROUPS = 10;

/** How the endpoint's bill was assumed, printed with every report so the amortised figures can be checked. */
export interface EndpointAssumption {
  readonly instanceType: string;
  /** Instances billed in every full hour of the range (the `--min-instances` flag). */
  readonly instances: number;
  readonly pricePerInstanceHourUsd: string;
  /** `price table <version> (<region>)`, `... falling back to us-east-1`, or `--instance-price`. */
  readonly priceSource: string;
  /**
   * When the endpoint is assumed to have run (ISO times): the whole range, cut at `generatedAt` when the range
   * runs past it. The ledger cannot tell whether the endpoint existed, so every hour of it is billed.
   */
  readonly assumedRunningFrom: string;
  readonly assumedRunningUntil: string;
  /** Wall-clock hours between the two. */
  readonly assumedRunningHours: number;
}

/** One row of the report: marginal components plus the amortised total. Money in USD and exact nano-USD. */
export interface ReportLine {
  readonly key: string;
  readonly invocations: number;
  readonly cachedInvocations: number;
  /** Invocations the backup model answered while the primary could not (ledger `modelSource: 'fallback'`). */
  readonly fallbackInvocations: number;
  readonly tokens: { readonly prompt: number; readonly completion: number; readonly total: number };
  /** Marginal cost per component: what the invocations themselves used. */
  readonly componentsNanoUsd: ComponentAmounts;
  readonly marginalNanoUsd: number;
  /** Their share of the endpoint's idle instance time in the hours they ran. */
  readonly idleShareNanoUsd: number;
  /** marginal + idle share. */
  readonly amortisedNanoUsd: number;
  readonly marginalUsd: number;
  readonly idleShareUsd: number;
  readonly amortisedUsd: number;
}

/** One UTC day of the chart: marginal components plus all idle endpoint time of that day. */
export interface DayCost {
  readonly day: string;
  readonly componentsNanoUsd: ComponentAmounts;
  /** Idle shares of the day's invocations plus billed hours of the day with no invocation at all. */
  readonly idleNanoUsd: number;
  readonly invocations: number;
}

/**
 * What scaling to zero outside business hours saved against an always-on endpoint over the running window: the
 * schedule's closed hours × `instances` × the instance price, less the closed hours the endpoint was awake
 * (estimated from the ledger by `rule`). Not deducted from the bill above, which assumes an always-on endpoint.
 */
export interface ScaleToZeroSaving {
  /** The schedule as given (`--scale-to-zero`, the stack's `ScaleToZeroSchedule` output). */
  readonly schedule: ScaleToZeroSchedule;
  readonly closedHours: number;
  readonly awakeHours: number;
  readonly asleepHours: number;
  /** The minimum instance count an always-on endpoint would have run. */
  readonly instances: number;
  /** asleepHours × instances. */
  readonly savedInstanceHours: number;
  readonly savedNanoUsd: number;
  readonly savedUsd: number;
  /** How awake hours were estimated (the report's footnote). */
  readonly rule: string;
}

/**
 * The long-connection connector's fixed cost (`--connector-tasks`): its ECS Fargate tasks (and their public IPv4
 * addresses) billed for the same hours as the endpoint. Not in any line nor in `grandTotal*`, which reconcile with the
 * ledger; `withConnectorNanoUsd` is the grand total plus this bill.
 */
export interface ConnectorBill {
  readonly tasks: number;
  readonly publicIpv4: boolean;
  readonly vcpuPerTask: number;
  readonly memoryGbPerTask: number;
  /** The fleet's hourly price, exact to the nano-dollar. */
  readonly hourlyNanoUsd: number;
  readonly priceSource: string;
  /** The endpoint's assumed running hours (`EndpointAssumption.assumedRunningHours`). */
  readonly hours: number;
  readonly billNanoUsd: number;
  readonly billUsd: number;
  /** A 730-hour month of the same fleet, USD. */
  readonly monthlyUsd: number;
  readonly withConnectorNanoUsd: number;
  readonly withConnectorUsd: number;
}

export interface CostReport {
  readonly from: string;
  readonly to: string;
  readonly by: AggregateBy;
  readonly generatedAt: string;
  readonly priceTableVersion: string;
  readonly endpoint: EndpointAssumption;
  /** Instance-hours billed in the range up to `generatedAt` (the current hour pro rata). */
  readonly billedInstanceHours: number;
  readonly lines: readonly ReportLine[];
  readonly totals: ReportLine;
  /** Endpoint hours with no invocation to carry them: in no line, but part of the bill. */
  readonly idleUnattributedUsd: number;
  readonly idleUnattributedNanoUsd: number;
  readonly endpointBillUsd: number;
  readonly endpointBillNanoUsd: number;
  /** Invariant: Σ lines' amortisedNanoUsd + idleUnattributedNanoUsd === this. */
  readonly grandTotalNanoUsd: number;
  readonly grandTotalUsd: number;
  readonly days: readonly DayCost[];
  /** The most expensive groups by amortised cost, at most ten. */
  readonly topGroups: readonly ReportLine[];
  /** Sentences a reader must see before trusting the figures (e.g. a period without traffic); often empty. */
  readonly notes: readonly string[];
  /** With `--scale-to-zero`: the saving of closed hours against an always-on endpoint. */
  readonly scaleToZero?: ScaleToZeroSaving;
  /** With `--connector-tasks`: the connector's fixed cost over the same hours. */
  readonly connector?: ConnectorBill;
}

export interface BuildReportOptions {
  readonly from: string;
  readonly to: string;
  readonly by: AggregateBy;
  readonly now: Date;
  readonly region: string;
  readonly instanceType: string;
  readonly instances: number;
  /** @default the price table's price for `instanceType` in `region` (else us-east-1) */
  readonly instancePriceUsd?: string;
  /** The endpoint's business hours (`scaleToZero`), to report the saving of its closed hours. @default none */
  readonly scaleToZero?: ScaleToZeroSchedule;
  /** The long-connection connector's tasks, billed as a fixed cost. @default none */
  readonly connector?: ConnectorFleet;
}

const HOUR_MS_BIG = BigInt(HOUR_MS);

/**
 * The saving of `schedule`'s closed hours within `window`, the primary's answers (`rows`) keeping it awake and the
 * fallback's closed-hours answers waking it (`AWAKE_RULE`).
 */
export function scaleToZeroSaving(
  rows: readonly ReportRow[],
  schedule: ScaleToZeroSchedule,
  window: { from: number; until: number },
  instances: number,
  pricePerInstanceHourUsd: string,
): ScaleToZeroSaving {
  // Rows from before `modelSource` existed were answered by the primary when they used endpoint time.
  const byPrimary = (r: ReportRow) =>
    r.modelSource === 'primary' || (r.modelSource === undefined && r.usage.sagemaker !== null);
  // A fallback answer after hours means the call reached the sleeping endpoint first, was refused, and woke it; a
  // cache hit reached no model.
  const byFallback = (r: ReportRow) => r.modelSource === 'fallback' && !r.cached;
  const times = (keep: (r: ReportRow) => boolean) => rows.filter(keep).map((r) => Date.parse(r.at));
  const hours = closedHoursIn(
    schedule,
    { start: window.from, end: window.until },
    { primary: times(byPrimary), fallback: times(byFallback) },
  );
  // Whole milliseconds of sleep × instances × price per hour, exactly.
  const asleepMs = BigInt(Math.round(hours.asleepHours * HOUR_MS));
  const saved = toNano(mul(fromDecimal(pricePerInstanceHourUsd), ratio(asleepMs * BigInt(instances), HOUR_MS_BIG)));
  return {
    schedule,
    closedHours: hours.closedHours,
    awakeHours: hours.awakeHours,
    asleepHours: hours.asleepHours,
    instances,
    savedInstanceHours: hours.asleepHours * instances,
    savedNanoUsd: Number(saved),
    savedUsd: nanoToUsd(saved),
    rule: AWAKE_RULE,
  };
}

/** The instance price as an exact decimal string, and where it came from. */
export function endpointPrice(options: Pick<BuildReportOptions, 'region' | 'instanceType' | 'instancePriceUsd'>): {
  usd: string;
  source: string;
} {
  if (options.instancePriceUsd !== undefined) return { usd: options.instancePriceUsd, source: '--instance-price' };
  const own = PRICE_TABLE[options.region]?.sagemakerInstanceHour?.[options.instanceType];
  if (own) return { usd: own.usd, source: `price table ${PRICE_TABLE_VERSION} (${options.region})` };
  const base = PRICE_TABLE[BASE_REGION]?.sagemakerInstanceHour?.[options.instanceType];
  if (base) {
    return { usd: base.usd, source: `price table ${PRICE_TABLE_VERSION} (${BASE_REGION}; none for ${options.region})` };
  }
  throw new ValidationError(
    `No price for ${options.instanceType} in ${options.region} or ${BASE_REGION}: pass --instance-price`,
  );
}

/** The endpoint's assumed running window: the range's first midnight to its end or `now`, whichever is first. */
function runningWindow(days: readonly string[], now: Date): { from: number; until: number } {
  const from = Date.parse(`${days[0]}T00:00:00Z`);
  return { from, until: Math.max(from, Math.min(periodEnd(days), now.getTime())) };
}

/** The midnight after the range's last day. */
function periodEnd(days: readonly string[]): number {
  return Date.parse(`${days[days.length - 1]}T00:00:00Z`) + 24 * HOUR_MS;
}

/** `YYYY-MM-DD HH:MM UTC`. */
function utcMinute(iso: string): string {
  return `${iso.slice(0, 16).replace('T', ' ')} UTC`;
}

/** The saving in words, for the table and the page: `Scale to zero (MON-FRI 08:30–19:00 Asia/Shanghai): …`. */
export function scaleToZeroText(saving: ScaleToZeroSaving, money: (nano: number) => string): string[] {
  const s = saving.schedule;
  const h = (hours: number) => String(Number(hours.toFixed(2)));
  return [
    `Scale to zero (${s.openDays} ${s.opensAt}–${s.closesAt} ${s.timeZone}, idle ${s.idleMinutes} min): ` +
      `${h(saving.closedHours)} closed hours, ${h(saving.awakeHours)} of them awake, ${h(saving.asleepHours)} asleep; ` +
      `saved ${h(saving.savedInstanceHours)} instance-hours = ${money(saving.savedNanoUsd)} against an always-on ` +
      'endpoint (not deducted from the bill above, which assumes always on).',
    `Awake hours: ${saving.rule}.`,
  ];
}

/** The assumed running window in words: `720 h from 2026-11-01 00:00 UTC to 2026-12-01 00:00 UTC`. */
export function runningWindowText(endpoint: EndpointAssumption): string {
  const hours = String(Number(endpoint.assumedRunningHours.toFixed(2)));
  return `${hours} h from ${utcMinute(endpoint.assumedRunningFrom)} to ${utcMinute(endpoint.assumedRunningUntil)}`;
}

/**
 * What a report without a single invocation must say: its whole cost is idle endpoint time, which is only real if
 * the endpoint ran for the whole period (the ledger cannot tell whether it existed).
 */
function emptyPeriodNotes(invocations: number, endpoint: EndpointAssumption, rangeEnd: number): string[] {
  if (invocations > 0) return [];
  if (endpoint.assumedRunningHours === 0) {
    return ['No invocations: the period starts after the report time, so nothing is billed yet.'];
  }
  const soFar =
    Date.parse(endpoint.assumedRunningUntil) < rangeEnd ? ' so far (the rest of it is after the report time)' : '';
  return [
    'No invocations in this period: all of its cost is idle endpoint time, which assumes the endpoint ' +
      `(${endpoint.instances} x ${endpoint.instanceType}) ran for the whole period${soFar}, ` +
      `${runningWindowText(endpoint)}. If it was deleted or scaled to zero for part of that time, the real cost is lower.`,
  ];
}

/**
 * Instances billed per UTC hour of the range: `instances` for every hour that has ended by `now`, pro rata for
 * the running hour (rows or not: the bill so far), none for the future, except future hours that already hold rows
 * (clock skew), billed in full so their rows have an hour to share. Σ = instances × the running window's hours.
 */
export function billedHours(
  days: readonly string[],
  instances: number,
  now: Date,
  rowHours: ReadonlySet<string>,
): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const day of days) {
    for (let h = 0; h < 24; h += 1) {
      const start = Date.parse(`${day}T00:00:00Z`) + h * HOUR_MS;
      const key = new Date(start).toISOString().slice(0, 13);
      const elapsed = Math.min(1, Math.max(0, (now.getTime() - start) / HOUR_MS));
      if (elapsed > 0) counts[key] = instances * elapsed;
      else if (rowHours.has(key)) counts[key] = instances;
    }
  }
  return counts;
}

function line(key: string, marginal: LedgerAggregate | undefined, amortised: LedgerAggregate | undefined): ReportLine {
  const marginalNano = marginal?.totalNanoUsd ?? 0;
  const amortisedNano = amortised?.totalNanoUsd ?? 0;
  const zero = Object.fromEntries(COST_COMPONENTS.map((c) => [c, 0])) as Record<CostComponent, number>;
  return {
    key,
    invocations: marginal?.invocations ?? 0,
    cachedInvocations: marginal?.cachedInvocations ?? 0,
    fallbackInvocations: marginal?.fallbackInvocations ?? 0,
    tokens: marginal?.tokens ?? { prompt: 0, completion: 0, total: 0 },
    componentsNanoUsd: marginal?.componentsNanoUsd ?? zero,
    marginalNanoUsd: marginalNano,
    idleShareNanoUsd: amortisedNano - marginalNano,
    amortisedNanoUsd: amortisedNano,
    marginalUsd: nanoToUsd(BigInt(marginalNano)),
    idleShareUsd: nanoToUsd(BigInt(amortisedNano - marginalNano)),
    amortisedUsd: nanoToUsd(BigInt(amortisedNano)),
  };
}

/** Every key's line summed: the lines partition the rows, so this is the total of all rows. */
function sumLines(key: string, lines: readonly ReportLine[]): ReportLine {
  const total = (f: (l: ReportLine) => number) => lines.reduce((t, l) => t + f(l), 0);
  const marginal = total((l) => l.marginalNanoUsd);
  const amortised = total((l) => l.amortisedNanoUsd);
  return {
    key,
    invocations: total((l) => l.invocations),
    cachedInvocations: total((l) => l.cachedInvocations),
    fallbackInvocations: total((l) => l.fallbackInvocations),
    tokens: {
      prompt: total((l) => l.tokens.prompt),
      completion: total((l) => l.tokens.completion),
      total: total((l) => l.tokens.total),
    },
    componentsNanoUsd: Object.fromEntries(
      COST_COMPONENTS.map((c) => [c, total((l) => l.componentsNanoUsd[c])]),
    ) as Record<CostComponent, number>,
    marginalNanoUsd: marginal,
    idleShareNanoUsd: amortised - marginal,
    amortisedNanoUsd: amortised,
    marginalUsd: nanoToUsd(BigInt(marginal)),
    idleShareUsd: nanoToUsd(BigInt(amortised - marginal)),
    amortisedUsd: nanoToUsd(BigInt(amortised)),
  };
}

/** Lines of `rows` by `by`, pairing each key's marginal aggregate with its amortised one. */
function linesBy(rows: readonly ReportRow[], amortisedRows: readonly ReportRow[], by: AggregateBy): ReportLine[] {
  const amortised = new Map(aggregate(amortisedRows, by).map((a) => [a.key, a]));
  return aggregate(rows, by).map((m) => line(m.key, m, amortised.get(m.key)));
}

/**
 * Builds the finance report for rows of ONE model endpoint: marginal cost per `by` key straight from the ledger,
 * and amortised cost after `amortiseIdleEndpointCost` spreads each hour's idle endpoint time over that hour's
 * invocations. Hours nobody used stay visible as `idleUnattributed`, so the report always adds up to the bill.
 */
export function buildCostReport(rows: readonly ReportRow[], options: BuildReportOptions): CostReport {
  const days = daysBetween(options.from, options.to);
  if (!days || days.length === 0) throw new ValidationError(`Invalid report range ${options.from}..${options.to}`);
  const price = endpointPrice(options);
  const rowHours = new Set(rows.map((r) => new Date(r.at).toISOString().slice(0, 13)));
  const instanceCountByHour = billedHours(days, options.instances, options.now, rowHours);
  const amortisation = amortiseIdleEndpointCost(rows, { pricePerInstanceHourUsd: price.usd, instanceCountByHour });
  const amortisedRows = amortisation.rows.map((r) => ({
    ...r,
    componentsNanoUsd: { ...r.componentsNanoUsd, sagemaker: r.sagemakerAmortisedNanoUsd },
  }));

  const idleByDay = new Map<string, number>();
  for (const idle of amortisation.idleUnattributed) {
    const day = idle.hour.slice(0, 10);
    idleByDay.set(day, (idleByDay.get(day) ?? 0) + idle.nanoUsd);
  }
  const dayLines = new Map(linesBy(rows, amortisedRows, 'day').map((l) => [l.key, l]));
  const dayCosts: DayCost[] = days.map((day) => {
    const l = dayLines.get(day) ?? line(day, undefined, undefined);
    return {
      day,
      componentsNanoUsd: l.componentsNanoUsd,
      idleNanoUsd: l.idleShareNanoUsd + (idleByDay.get(day) ?? 0),
      invocations: l.invocations,
    };
  });

  const groups = linesBy(rows, amortisedRows, 'group');
  const lines = options.by === 'group' ? groups : linesBy(rows, amortisedRows, options.by);
  const totals = sumLines('TOTAL', lines);
  const topGroups = [...groups].sort((a, b) => b.amortisedNanoUsd - a.amortisedNanoUsd).slice(0, TOP_GROUPS);
  const grandTotal = totals.amortisedNanoUsd + amortisation.idleUnattributedNanoUsd;
  const window = runningWindow(days, options.now);
  const endpoint: EndpointAssumption = {
    instanceType: options.instanceType,
    instances: options.instances,
    pricePerInstanceHourUsd: price.usd,
    priceSource: price.source,
    assumedRunningFrom: new Date(window.from).toISOString(),
    assumedRunningUntil: new Date(window.until).toISOString(),
    assumedRunningHours: (window.until - window.from) / HOUR_MS,
  };

  return {
    from: options.from,
    to: options.to,
    by: options.by,
    generatedAt: options.now.toISOString(),
    priceTableVersion: PRICE_TABLE_VERSION,
    endpoint,
    billedInstanceHours: Object.values(instanceCountByHour).reduce((a, b) => a + b, 0),
    lines,
    totals,
    idleUnattributedUsd: amortisation.idleUnattributedUsd,
    idleUnattributedNanoUsd: amortisation.idleUnattributedNanoUsd,
    endpointBillUsd: amortisation.endpointBillUsd,
    endpointBillNanoUsd: amortisation.endpointBillNanoUsd,
    grandTotalNanoUsd: grandTotal,
    grandTotalUsd: nanoToUsd(BigInt(grandTotal)),
    days: dayCosts,
    topGroups,
    notes: emptyPeriodNotes(totals.invocations, endpoint, periodEnd(days)),
    ...(options.scaleToZero
      ? { scaleToZero: scaleToZeroSaving(rows, options.scaleToZero, window, options.instances, price.usd) }
      : {}),
    ...(options.connector
      ? { connector: connectorBill(options.connector, options.region, endpoint.assumedRunningHours, grandTotal) }
      : {}),
  };
}

/** The connector's fleet billed for `hours`, and the grand total with it. */
export function connectorBill(
  fleet: ConnectorFleet,
  region: string,
  hours: number,
  grandTotalNano: number,
): ConnectorBill {
  const bill = Number(connectorCostNano(fleet, region, hours));
  const rate = connectorRate(fleet, region);
  return {
    tasks: fleet.tasks,
    publicIpv4: fleet.publicIpv4,
    vcpuPerTask: CONNECTOR_TASK.cpuUnits / 1024,
    memoryGbPerTask: CONNECTOR_TASK.memoryMiB / 1024,
    hourlyNanoUsd: Number(toNano(rate.hourlyUsd)),
    priceSource: rate.source,
    hours,
    billNanoUsd: bill,
    billUsd: nanoToUsd(BigInt(bill)),
    monthlyUsd: connectorMonthlyUsd(fleet, region),
    withConnectorNanoUsd: grandTotalNano + bill,
    withConnectorUsd: nanoToUsd(BigInt(grandTotalNano + bill)),
  };
}

/** The connector in words, for the table and the page. */
export function connectorText(bill: ConnectorBill, money: (nano: number) => string): string {
  const h = String(Number(bill.hours.toFixed(2)));
  const ipv4 = bill.publicIpv4 ? ' with a public IPv4 each' : '';
  return (
    `Connector (long connections): ${bill.tasks} x ECS Fargate arm64 ${bill.vcpuPerTask} vCPU / ${bill.memoryGbPerTask} GB${ipv4}, ` +
    `${h} h at ${money(bill.hourlyNanoUsd)}/h (${bill.priceSource}) = ${money(bill.billNanoUsd)}, ` +
    `about $${bill.monthlyUsd.toFixed(2)} a month; not in the totals above (no ledger row carries it). ` +
    `Grand total with the connector: ${money(bill.withConnectorNanoUsd)}.`
  );
}
