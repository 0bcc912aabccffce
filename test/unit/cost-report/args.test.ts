import { ValidationError } from '#core/errors';
import {
  daysBetween,
  parseReportArgs,
  REPORT_BY,
  REPORT_FORMATS,
  REPORT_OPTIONS,
  REPORT_SOURCES,
  USAGE,
} from '../../../tools/cost-report/args';

const RANGE = ['--from', '2026-11-01', '--to', '2026-11-30'];

function problemsOf(argv: string[], env: Record<string, string> = {}): string {
  try {
    parseReportArgs(argv, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as Error).message;
  }
  throw new Error('expected a ValidationError');
}

test('defaults: by group, table, AWS source with the table from LEDGER_TABLE, one ml.g4dn.xlarge', () => {
  expect(parseReportArgs(RANGE, { LEDGER_TABLE: 'Ledger', AWS_REGION: 'eu-west-1' })).toEqual({
    from: '2026-11-01',
    to: '2026-11-30',
    by: 'group',
    format: 'table',
    source: 'aws',
    sandboxUrl: 'http://127.0.0.1:3000',
    table: 'Ledger',
    region: 'eu-west-1',
    instanceType: 'ml.g4dn.xlarge',
    instances: 1,
    instancePriceUsd: undefined,
    out: undefined,
    help: false,
  });
});

test('every flag, in --flag=value form too', () => {
  const args = parseReportArgs([
    ...RANGE,
    '--by=platform',
    '--format',
    'html',
    '--source',
    'sandbox',
    '--sandbox-url',
    'http://127.0.0.1:4000',
    '--region',
    'us-west-2',
    '--instance-type',
    'ml.g4dn.2xlarge',
    '--min-instances',
    '2',
    '--instance-price',
    '0.94',
    '--out',
    'report.html',
  ]);
  expect(args).toMatchObject({
    by: 'platform',
    format: 'html',
    source: 'sandbox',
    sandboxUrl: 'http://127.0.0.1:4000',
    table: undefined,
    region: 'us-west-2',
    instanceType: 'ml.g4dn.2xlarge',
    instances: 2,
    instancePriceUsd: '0.94',
    out: 'report.html',
  });
});

test('lists every problem at once', () => {
  const message = problemsOf([
    '--from',
    '2026-02-30',
    '--by',
    'team',
    '--format',
    'xml',
    '--source',
    'ftp',
    '--min-instances',
    '101',
    '--instance-price',
    '-1',
    '--sandbox-url',
    'localhost:3000',
    '--region',
    'Mars',
    '--instance-type',
    'g4dn.xlarge',
    '--colour',
    'stray',
  ]);
  for (const expected of [
    '--from: "2026-02-30" is not a calendar day',
    '--to: required',
    '--by: "team" is not one of group|user|day|platform',
    '--format: "xml" is not one of table|csv|json|html',
    '--source: "ftp" is not one of aws|sandbox',
    '--min-instances: "101" must be a whole number from 0 to 100',
    '--instance-price: "-1" is not a decimal USD amount',
    '--sandbox-url: "localhost:3000" is not an http(s) URL',
    '--region: "Mars" is not a region code',
    '--instance-type: "g4dn.xlarge" is not an ml.* instance type',
    '--colour: unknown option',
    '"stray": unexpected argument',
    '--table: required with --source aws',
  ]) {
    expect(message).toContain(expected);
  }
  expect(message).toContain('Usage: npm run cost-report');
});

test('an inverted, an over-long range and a flag without its value', () => {
  expect(problemsOf(['--from', '2026-11-30', '--to', '2026-11-01', '--table', 'L'])).toContain(
    '--to: 2026-11-01 is before --from 2026-11-30',
  );
  expect(problemsOf(['--from', '2025-01-01', '--to', '2026-12-31', '--table', 'L'])).toContain(
    '730 days; a report covers at most 366',
  );
  expect(problemsOf([...RANGE, '--table', 'L', '--by'])).toContain('--by: needs a value');
});

test('--table only with the AWS source', () => {
  expect(problemsOf([...RANGE, '--source', 'sandbox', '--table', 'Ledger'])).toContain(
    '--table: only applies to --source aws',
  );
});

test('--help wins over missing arguments', () => {
  expect(parseReportArgs(['--help']).help).toBe(true);
});

test('daysBetween: inclusive calendar days across a month end; undefined for non-days', () => {
  expect(daysBetween('2026-11-29', '2026-12-02')).toEqual(['2026-11-29', '2026-11-30', '2026-12-01', '2026-12-02']);
  expect(daysBetween('2026-11-01', '2026-11-01')).toEqual(['2026-11-01']);
  expect(daysBetween('2026-11-31', '2026-12-01')).toBeUndefined();
});

describe('the sandbox URL follows PORT, as `npm start` does', () => {
  const sandbox = [...RANGE, '--source', 'sandbox'];

  test('PORT names the port; without it, 3000; --sandbox-url wins over both', () => {
    expect(parseReportArgs(sandbox, { PORT: '4105' }).sandboxUrl).toBe('http://127.0.0.1:4105');
    expect(parseReportArgs(sandbox, { PORT: '' }).sandboxUrl).toBe('http://127.0.0.1:3000');
    // Read as bin/sandbox.ts reads it (Number), so both sides agree on the port.
    expect(parseReportArgs(sandbox, { PORT: ' 4105' }).sandboxUrl).toBe('http://127.0.0.1:4105');
    expect(parseReportArgs(sandbox, {}).sandboxUrl).toBe('http://127.0.0.1:3000');
    expect(parseReportArgs([...sandbox, '--sandbox-url', 'http://127.0.0.1:5000'], { PORT: '4105' }).sandboxUrl).toBe(
      'http://127.0.0.1:5000',
    );
  });

  test.each(['abc', '0', '65536', '-1', '80.5'])('PORT=%j is refused for the sandbox source', (port) => {
    expect(problemsOf(sandbox, { PORT: port })).toContain(
      `PORT: ${JSON.stringify(port)} is not a port 1–65535 for the sandbox URL; pass --sandbox-url`,
    );
  });

  test('a bad PORT does not matter when it is not used', () => {
    expect(() => parseReportArgs([...RANGE, '--table', 'L'], { PORT: 'abc' })).not.toThrow();
    expect(() =>
      parseReportArgs([...sandbox, '--sandbox-url', 'http://127.0.0.1:5000'], { PORT: 'abc' }),
    ).not.toThrow();
  });
});

test('--help lists every flag, every choice, the environment, the units and the exit codes', () => {
  for (const flag of Object.keys(REPORT_OPTIONS)) expect(USAGE).toContain(`--${flag}`);
  for (const choice of [...REPORT_BY, ...REPORT_FORMATS, ...REPORT_SOURCES]) expect(USAGE).toContain(choice);
  for (const name of ['PORT', 'LEDGER_TABLE', 'AWS_REGION', 'µUSD', 'GRAND TOTAL', 'Exit codes']) {
    expect(USAGE).toContain(name);
  }
});
