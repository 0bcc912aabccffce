import {
  CONNECTOR_TASK,
  connectorCostArgs,
  connectorMonthlyUsd,
  connectorRate,
  HOURS_PER_MONTH,
} from '#core/cost/connector-cost';
import { toNano } from '#core/cost/exact';
import { parseReportArgs } from '../../../tools/cost-report/args';
import { buildCostReport } from '../../../tools/cost-report/build';
import { renderCsv, renderJson, renderTable } from '../../../tools/cost-report/render';

/**
 * The long-connection connector's fixed cost (issue 18): Fargate arm64 0.25 vCPU / 0.5 GB per task, plus a public
 * IPv4 address per task in the connector's own VPC, priced exactly and added to the report beside the ledger's total.
 */
const RANGE = ['--from', '2026-11-01', '--to', '2026-11-30', '--table', 'Ledger'];
const MONTH = {
  from: '2026-11-01',
  to: '2026-11-30',
  by: 'group',
  now: new Date('2026-12-01T00:00:00Z'),
  region: 'us-east-1',
  instanceType: 'ml.g4dn.xlarge',
  instances: 1,
} as const;

describe('connector prices', () => {
  test('the task size is the stack’s: 0.25 vCPU, 0.5 GB', () => {
    expect(CONNECTOR_TASK).toEqual({ cpuUnits: 256, memoryMiB: 512 });
  });

  test('list prices in us-east-1: $7.21 a task-month, $3.65 more with a public IPv4, two tasks ≈ $22', () => {
    // 0.25 × 0.03238 + 0.5 × 0.00356 = 0.009875 $/h; + 0.005 $/h for the address.
    expect(toNano(connectorRate({ tasks: 1, publicIpv4: false }, 'us-east-1').hourlyUsd)).toBe(9_875_000n);
    expect(connectorMonthlyUsd({ tasks: 1, publicIpv4: false })).toBe(7.20875);
    expect(
      connectorMonthlyUsd({ tasks: 1, publicIpv4: true }) - connectorMonthlyUsd({ tasks: 1, publicIpv4: false }),
    ).toBeCloseTo(3.65, 9);
    expect(connectorMonthlyUsd({ tasks: 2, publicIpv4: true })).toBe(21.7175);
    expect(HOURS_PER_MONTH).toBe(730);
  });

  test('another region is priced as us-east-1, and says so', () => {
    expect(connectorRate({ tasks: 2, publicIpv4: true }, 'eu-west-1').source).toMatch(
      /^us-east-1 list prices.*none for eu-west-1/,
    );
  });
});

describe('cost report flags', () => {
  test('the stack output’s flags parse back into the fleet', () => {
    expect(parseReportArgs([...RANGE, ...connectorCostArgs(2, true).split(' ')]).connector).toEqual({
      tasks: 2,
      publicIpv4: true,
    });
    expect(parseReportArgs([...RANGE, ...connectorCostArgs(1, false).split(' ')]).connector).toEqual({
      tasks: 1,
      publicIpv4: false,
    });
    expect(parseReportArgs(RANGE).connector).toBeUndefined();
  });

  test('refuses a bad task count and the IPv4 flag alone', () => {
    expect(() => parseReportArgs([...RANGE, '--connector-tasks', '0'])).toThrow(
      /--connector-tasks: "0" must be a whole number from 1 to 10/,
    );
    expect(() => parseReportArgs([...RANGE, '--connector-public-ipv4'])).toThrow(
      /--connector-public-ipv4: only applies with --connector-tasks/,
    );
  });
});

describe('the report with the connector', () => {
  const plain = buildCostReport([], MONTH);
  const report = buildCostReport([], { ...MONTH, connector: { tasks: 2, publicIpv4: true } });

  test('bills the fleet for the endpoint’s hours, beside (not inside) the ledger’s totals', () => {
    // November: 720 h × 2 × 0.014875 $/h = $21.42 exactly.
    expect(report.connector).toMatchObject({
      tasks: 2,
      publicIpv4: true,
      vcpuPerTask: 0.25,
      memoryGbPerTask: 0.5,
      hourlyNanoUsd: 29_750_000,
      hours: 720,
      billNanoUsd: 21_420_000_000,
      billUsd: 21.42,
      monthlyUsd: 21.7175,
    });
    expect(report.grandTotalNanoUsd).toBe(plain.grandTotalNanoUsd);
    expect(report.connector?.withConnectorNanoUsd).toBe(plain.grandTotalNanoUsd + 21_420_000_000);
    expect(plain.connector).toBeUndefined();
  });

  test('every format shows it; without the flag none does', () => {
    expect(renderTable(report)).toContain(
      'Connector (long connections): 2 x ECS Fargate arm64 0.25 vCPU / 0.5 GB with a public IPv4 each, 720 h',
    );
    expect(renderTable(report)).toMatch(/= 21,420,000\.000 µUSD \(\$21\.42\), about \$21\.72 a month/);
    const csv = renderCsv(report).split('\r\n');
    expect(csv.find((l) => l.startsWith('CONNECTOR FIXED COST (NOT IN TOTALS)'))).toMatch(/,21\.420000000$/);
    expect(csv.some((l) => l.startsWith('GRAND TOTAL WITH CONNECTOR'))).toBe(true);
    expect(JSON.parse(renderJson(report)).connector.billNanoUsd).toBe(21_420_000_000);
    expect(renderTable(plain)).not.toContain('Connector');
    expect(renderCsv(plain)).not.toContain('CONNECTOR');
  });
});
