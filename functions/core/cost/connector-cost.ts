import { add, fromDecimal, mul, nanoToUsd, type Ratio, ratio, toNano } from './exact';
import { BASE_REGION, type PricePoint } from './prices';

/**
 * The long-connection connector's fixed cost (issue 18): ECS Fargate tasks running around the clock, plus a public
 * IPv4 address per task when they run in the stack's own VPC (no NAT gateway). Nothing here depends on traffic, so
 * it is not in the ledger: the cost report adds it as a fixed line (`--connector-tasks`), and docs/OPERATIONS.md
 * quotes the monthly figure. Prices are kept apart from the ledger's table (`prices.ts`), whose version every ledger
 * row records.
 */

/** One task's size as the stack deploys it (lib/constructs/connector.ts): 256 CPU units, 512 MiB. */
export const CONNECTOR_TASK = { cpuUnits: 256, memoryMiB: 512 } as const;

/** AWS's pricing month: 730 hours (8,760 a year / 12). */
export const HOURS_PER_MONTH = 730;

export interface ConnectorPrices {
  /** Fargate Linux/ARM, per vCPU-hour. */
  readonly vcpuHourArm64: PricePoint;
  /** Fargate Linux/ARM, per GB-hour of memory. */
  readonly gbHourArm64: PricePoint;
  /** A public IPv4 address, in use or idle, per hour. */
  readonly publicIpv4Hour: PricePoint;
}

const READ_ON = '2026-12-05';
const FARGATE_SOURCE = 'https://www.vantage.sh/blog/fargate-pricing';
const IPV4_SOURCE = 'https://github.com/LeanerCloud/aws-ipv4-cost-viewer';

const US_EAST_1: ConnectorPrices = {
  vcpuHourArm64: {
    usd: '0.03238',
    unit: 'USD per vCPU-hour (Fargate Linux/ARM)',
    source: FARGATE_SOURCE,
    readOn: READ_ON,
    confidence: 'third-party',
  },
  gbHourArm64: {
    usd: '0.00356',
    unit: 'USD per GB-hour (Fargate Linux/ARM)',
    source: FARGATE_SOURCE,
    readOn: READ_ON,
    confidence: 'third-party',
  },
  publicIpv4Hour: {
    usd: '0.005',
    unit: 'USD per public IPv4 address-hour',
    source: IPV4_SOURCE,
    readOn: READ_ON,
    confidence: 'third-party',
    note: 'the February 2024 charge for every public IPv4 address, attached or not',
  },
};

/** Per region, only what we have read; any other region is priced as us-east-1 and the report says so. */
export const CONNECTOR_PRICES: Readonly<Record<string, ConnectorPrices>> = { [BASE_REGION]: US_EAST_1 };

/** The connector's footprint: what the stack's `ConnectorCostReportArgs` output states. */
export interface ConnectorFleet {
  readonly tasks: number;
  /** Each task has a public IPv4 (the stack's own VPC); false in `pipelineVpc`, whose NAT is billed elsewhere. */
  readonly publicIpv4: boolean;
}

export interface ConnectorRate {
  /** USD per hour for the whole fleet, exact. */
  readonly hourlyUsd: Ratio;
  /** `us-east-1 list prices, read 2026-12-05` or `... (none for <region>)`. */
  readonly source: string;
}

/** The fleet's hourly cost in `region`: tasks × (vCPU × vCPU-hour + GB × GB-hour [+ IPv4-hour]). */
export function connectorRate(fleet: ConnectorFleet, region: string): ConnectorRate {
  const own = CONNECTOR_PRICES[region];
  const prices = own ?? US_EAST_1;
  const vcpu = ratio(BigInt(CONNECTOR_TASK.cpuUnits), 1024n);
  const gb = ratio(BigInt(CONNECTOR_TASK.memoryMiB), 1024n);
  let perTask = add(mul(vcpu, fromDecimal(prices.vcpuHourArm64.usd)), mul(gb, fromDecimal(prices.gbHourArm64.usd)));
  if (fleet.publicIpv4) perTask = add(perTask, fromDecimal(prices.publicIpv4Hour.usd));
  const source = own
    ? `${region} list prices, read ${READ_ON}`
    : `${BASE_REGION} list prices, read ${READ_ON} (none for ${region})`;
  return { hourlyUsd: mul(perTask, ratio(BigInt(fleet.tasks))), source };
}

/** The fleet's cost over `hours` (a whole or fractional number of hours), in integer nano-dollars. */
export function connectorCostNano(fleet: ConnectorFleet, region: string, hours: number): bigint {
  const ms = BigInt(Math.round(hours * 3_600_000));
  return toNano(mul(connectorRate(fleet, region).hourlyUsd, ratio(ms, 3_600_000n)));
}

/** A month (730 h) of the fleet, in USD: `{tasks: 2, publicIpv4: true}` → 21.7175 in us-east-1. */
export function connectorMonthlyUsd(fleet: ConnectorFleet, region = BASE_REGION): number {
  return nanoToUsd(connectorCostNano(fleet, region, HOURS_PER_MONTH));
}

/** The cost report's flags for the connector. */
export const CONNECTOR_COST_FLAGS = { tasks: 'connector-tasks', publicIpv4: 'connector-public-ipv4' } as const;

/** What the stack prints for `npm run cost-report` (its `ConnectorCostReportArgs` output). */
export function connectorCostArgs(tasks: number, publicIpv4: boolean): string {
  return `--${CONNECTOR_COST_FLAGS.tasks} ${tasks}${publicIpv4 ? ` --${CONNECTOR_COST_FLAGS.publicIpv4}` : ''}`;
}
