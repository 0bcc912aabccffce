import { parseArgs } from 'node:util';
import { type ScaleToZeroSchedule, scaleToZeroSchema } from '#core/cost/closed-hours';
import { CONNECTOR_COST_FLAGS, type ConnectorFleet } from '#core/cost/connector-cost';
import type { AggregateBy } from '#core/cost/ledger-row';
import { ValidationError } from '#core/errors';

export const REPORT_BY = ['group', 'user', 'day', 'platform'] as const satisfies readonly AggregateBy[];
export const REPORT_FORMATS = ['table', 'csv', 'json', 'html'] as const;
export const REPORT_SOURCES = ['aws', 'sandbox'] as const;

export type ReportFormat = (typeof REPORT_FORMATS)[number];
export type ReportSource = (typeof REPORT_SOURCES)[number];

/** Longest range one report covers; a year of days is at most 366 `byDay` queries. */
export const MAX_REPORT_DAYS = 366;

export interface ReportArgs {
  /** First UTC day, `YYYY-MM-DD`, inclusive. */
  readonly from: string;
  /** Last UTC day, inclusive. */
  readonly to: string;
  readonly by: AggregateBy;
  readonly format: ReportFormat;
  readonly source: ReportSource;
  /** `--sandbox-url`, else the sandbox on this machine at `PORT` (as `npm start` reads it), else port 3000. */
  readonly sandboxUrl: string;
  /** Ledger table name (source `aws`). */
  readonly table: string | undefined;
  readonly region: string;
  /** The endpoint's instance type, priced from functions/core/cost/prices.ts. */
  readonly instanceType: string;
  /**
   * Instances billed in every hour of the range. The ledger does not record the autoscaler's history, so the
   * report assumes the endpoint ran at its minimum (`minInstances`) all the time; pass the real average if it
   * scaled out for long.
   */
  readonly instances: number;
  /** USD per instance-hour, overriding the price table. */
  readonly instancePriceUsd: string | undefined;
  /** The endpoint's business hours (the stack's `ScaleToZeroSchedule` output), to report their saving. */
  readonly scaleToZero: ScaleToZeroSchedule | undefined;
  /** The long-connection connector's tasks (the stack's `ConnectorCostReportArgs` output), billed as a fixed cost. */
  readonly connector: ConnectorFleet | undefined;
  /** Write here instead of stdout. */
  readonly out: string | undefined;
  readonly help: boolean;
}

export const USAGE = `Usage: npm run cost-report -- --from YYYY-MM-DD --to YYYY-MM-DD [options]

Options
  --from YYYY-MM-DD                 first UTC day, inclusive (required)
  --to YYYY-MM-DD                   last UTC day, inclusive (required; at most ${MAX_REPORT_DAYS} days)
  --by group|user|day|platform      rows of the report (default group)
  --format table|csv|json|html      output (default table)
  --source aws|sandbox              read DynamoDB (default) or the sandbox's GET /_sandbox/ledger
  --sandbox-url URL                 sandbox base URL (default http://127.0.0.1:$PORT, or port 3000 without PORT)
  --table NAME                      ledger table (source aws; default $LEDGER_TABLE)
  --region REGION                   price and DynamoDB region (default $AWS_REGION, else us-east-1)
  --instance-type TYPE              endpoint instance type (default ml.g4dn.xlarge)
  --min-instances N                 instances billed every hour, for amortisation (default 1; 0 without an endpoint)
  --instance-price USD              USD per instance-hour, instead of the price table
  --scale-to-zero JSON              the endpoint's business hours, as the stack's ScaleToZeroSchedule output prints
                                    them (the scaleToZero CDK key): adds the saving of closed hours against an
                                    always-on endpoint
  --${CONNECTOR_COST_FLAGS.tasks} N               tasks of the long-connection connector (the longConnection CDK key):
                                    adds its fixed cost, ECS Fargate arm64 0.25 vCPU / 0.5 GB per task, for the same
                                    hours as the endpoint (the stack's ConnectorCostReportArgs output prints the flags)
  --${CONNECTOR_COST_FLAGS.publicIpv4}           with --${CONNECTOR_COST_FLAGS.tasks}: each task has a public IPv4 address
                                    (the connector's own VPC; not in pipelineVpc)
  --out FILE                        write to FILE instead of stdout
  --help                            this text

Environment
  LEDGER_TABLE   default --table        AWS_REGION   default --region
  PORT           the sandbox's port for --source sandbox (as \`npm start\` uses it)
  AWS credentials from the standard chain (source aws: dynamodb:Query on the table and its byDay index)

Output
  table  amounts in µUSD (micro-dollars, 1,000,000 µUSD = $1) with 3 decimals: exact to the nano-dollar
  csv    amounts in USD with 9 decimals (exact); group and user keys split into platform,tenant,group|user
         columns; after the lines TOTAL, IDLE HOURS WITHOUT INVOCATIONS, and GRAND TOTAL (both)
  json   the whole report, amounts as exact integer nano-dollars (*NanoUsd) and USD numbers (*Usd)
  html   a page with charts; its per-invocation headline equals the TOTAL row's amortised per call

Marginal = what each invocation added (its ledger row). Amortised = marginal plus its share of the endpoint's
idle instance time in the same UTC hour (min-instances x price, spread by busy time). The endpoint is assumed
to run every hour of the range up to the report time; a range without invocations is all idle endpoint time.
Exit codes: 0 done, 2 bad arguments or ledger rows, 1 anything else (AWS, network, disk).`;

/** Every flag the command takes; `--help` lists each. */
export const REPORT_OPTIONS = {
  from: { type: 'string' },
  to: { type: 'string' },
  by: { type: 'string' },
  format: { type: 'string' },
  source: { type: 'string' },
  'sandbox-url': { type: 'string' },
  table: { type: 'string' },
  region: { type: 'string' },
  'instance-type': { type: 'string' },
  'min-instances': { type: 'string' },
  'instance-price': { type: 'string' },
  'scale-to-zero': { type: 'string' },
  [CONNECTOR_COST_FLAGS.tasks]: { type: 'string' },
  [CONNECTOR_COST_FLAGS.publicIpv4]: { type: 'boolean' },
  out: { type: 'string' },
  help: { type: 'boolean' },
} as const;

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** Whole days from `from` to `to`, inclusive; undefined unless both are real calendar days. */
export function daysBetween(from: string, to: string): string[] | undefined {
  if (!isDay(from) || !isDay(to)) return undefined;
  const days: string[] = [];
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`); t += 86_400_000) {
    days.push(new Date(t).toISOString().slice(0, 10));
  }
  return days;
}

function isDay(value: string): boolean {
  return DAY.test(value) && new Date(`${value}T00:00:00Z`).toISOString().slice(0, 10) === value;
}

/**
 * The port of the local sandbox: `PORT` read as `npm start` reads it (bin/sandbox.ts: `Number(PORT)`), 3000 when
 * unset. A bad `PORT` is a problem only when the sandbox is read; `PORT=0` starts the sandbox on a random port,
 * which only the URL it prints names.
 */
function sandboxPort(port: string | undefined, used: boolean, problems: string[]): number {
  if (port === undefined || port === '') return 3000;
  const value = Number(port);
  if (Number.isInteger(value) && value >= 1 && value <= 65_535) return value;
  if (used) {
    problems.push(
      `PORT: ${JSON.stringify(port)} is not a port 1–65535 for the sandbox URL; pass --sandbox-url (the URL \`npm start\` printed)`,
    );
  }
  return 3000;
}

function oneOf<T extends string>(
  name: string,
  value: string | undefined,
  allowed: readonly T[],
  fallback: T,
  problems: string[],
): T {
  if (value === undefined) return fallback;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  problems.push(`--${name}: ${JSON.stringify(value)} is not one of ${allowed.join('|')}`);
  return fallback;
}

/**
 * Parses the cost-report command line. Throws one `ValidationError` listing every problem (unknown flags,
 * missing or malformed values, an inverted or too long range), so a user fixes them in one go.
 */
export function parseReportArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = {},
): ReportArgs {
  const problems: string[] = [];
  const { values, tokens } = parseArgs({ args: [...argv], options: REPORT_OPTIONS, strict: false, tokens: true });
  for (const token of tokens) {
    if (token.kind === 'option' && !(token.name in REPORT_OPTIONS)) problems.push(`${token.rawName}: unknown option`);
    else if (token.kind === 'positional') problems.push(`${JSON.stringify(token.value)}: unexpected argument`);
    else if (token.kind === 'option' && REPORT_OPTIONS[token.name as keyof typeof REPORT_OPTIONS].type === 'string') {
      if (token.value === undefined) problems.push(`${token.rawName}: needs a value`);
    }
  }
  const str = (key: keyof typeof REPORT_OPTIONS): string | undefined => {
    const value = values[key];
    return typeof value === 'string' ? value : undefined;
  };
  const help = values.help === true;

  const from = str('from');
  const to = str('to');
  if (from === undefined) problems.push('--from: required (YYYY-MM-DD)');
  else if (!isDay(from)) problems.push(`--from: ${JSON.stringify(from)} is not a calendar day YYYY-MM-DD`);
  if (to === undefined) problems.push('--to: required (YYYY-MM-DD)');
  else if (!isDay(to)) problems.push(`--to: ${JSON.stringify(to)} is not a calendar day YYYY-MM-DD`);
  const days = from !== undefined && to !== undefined ? daysBetween(from, to) : undefined;
  if (days !== undefined && days.length === 0) problems.push(`--to: ${to} is before --from ${from}`);
  if (days !== undefined && days.length > MAX_REPORT_DAYS) {
    problems.push(`--from/--to: ${days.length} days; a report covers at most ${MAX_REPORT_DAYS}`);
  }

  const by = oneOf('by', str('by'), REPORT_BY, 'group', problems);
  const format = oneOf('format', str('format'), REPORT_FORMATS, 'table', problems);
  const source = oneOf('source', str('source'), REPORT_SOURCES, 'aws', problems);

  const explicitUrl = str('sandbox-url');
  const sandboxUrl = explicitUrl ?? `http://127.0.0.1:${sandboxPort(env.PORT, source === 'sandbox', problems)}`;
  if (!/^https?:\/\/[^\s/]+/.test(sandboxUrl) || !URL.canParse(sandboxUrl)) {
    problems.push(`--sandbox-url: ${JSON.stringify(sandboxUrl)} is not an http(s) URL`);
  }
  const table = str('table') ?? env.LEDGER_TABLE;
  if (source === 'aws' && !table) problems.push('--table: required with --source aws (or set LEDGER_TABLE)');
  if (source === 'sandbox' && str('table') !== undefined) problems.push('--table: only applies to --source aws');

  const region = str('region') ?? env.AWS_REGION ?? 'us-east-1';
  if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(region))
    problems.push(`--region: ${JSON.stringify(region)} is not a region code`);
  const instanceType = str('instance-type') ?? 'ml.g4dn.xlarge';
  if (!/^ml\.[a-z0-9-]+\.[a-z0-9]+$/.test(instanceType)) {
    problems.push(`--instance-type: ${JSON.stringify(instanceType)} is not an ml.* instance type`);
  }
  const instancesText = str('min-instances') ?? '1';
  const instances = Number(instancesText);
  // 0: no endpoint instances to spread (an OpenAI-compatible primary, billed outside GroupGate).
  if (!/^\d+$/.test(instancesText) || instances > 100) {
    problems.push(`--min-instances: ${JSON.stringify(instancesText)} must be a whole number from 0 to 100`);
  }
  const instancePriceUsd = str('instance-price');
  if (instancePriceUsd !== undefined && !/^\d+(\.\d+)?$/.test(instancePriceUsd)) {
    problems.push(`--instance-price: ${JSON.stringify(instancePriceUsd)} is not a decimal USD amount such as 0.7364`);
  }
  const scaleToZero = parseScaleToZero(str('scale-to-zero'), problems);
  const connector = parseConnector(
    str(CONNECTOR_COST_FLAGS.tasks),
    values[CONNECTOR_COST_FLAGS.publicIpv4] === true,
    problems,
  );
  const out = str('out');
  if (out === '') problems.push('--out: must not be empty');

  if (problems.length > 0 && !help) {
    throw new ValidationError(`Invalid cost-report arguments:\n  - ${problems.join('\n  - ')}\n\n${USAGE}`);
  }
  return {
    from: from ?? '',
    to: to ?? '',
    by,
    format,
    source,
    sandboxUrl,
    table,
    region,
    instanceType,
    instances,
    instancePriceUsd,
    scaleToZero,
    connector,
    out,
    help,
  };
}

/** `--connector-tasks N [--connector-public-ipv4]`: the connector's fleet, or undefined without the flags. */
function parseConnector(
  tasksText: string | undefined,
  publicIpv4: boolean,
  problems: string[],
): ConnectorFleet | undefined {
  const { tasks: tasksFlag, publicIpv4: ipv4Flag } = CONNECTOR_COST_FLAGS;
  if (tasksText === undefined) {
    if (publicIpv4) problems.push(`--${ipv4Flag}: only applies with --${tasksFlag}`);
    return undefined;
  }
  const tasks = Number(tasksText);
  if (!/^\d+$/.test(tasksText) || tasks < 1 || tasks > 10) {
    problems.push(
      `--${tasksFlag}: ${JSON.stringify(tasksText)} must be a whole number from 1 to 10 (the desiredCount)`,
    );
    return undefined;
  }
  return { tasks, publicIpv4 };
}

/** `--scale-to-zero`'s JSON, validated by the schema the CDK key uses; each problem named by its key. */
function parseScaleToZero(text: string | undefined, problems: string[]): ScaleToZeroSchedule | undefined {
  if (text === undefined) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    problems.push(`--scale-to-zero: ${JSON.stringify(text)} is not JSON (pass the stack's ScaleToZeroSchedule output)`);
    return undefined;
  }
  const parsed = scaleToZeroSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues) {
    const key = issue.path.map(String).join('.');
    const keys = issue.code === 'unrecognized_keys' ? `: unknown key ${issue.keys.join(', ')}` : '';
    problems.push(`--scale-to-zero${key ? `.${key}` : ''}: ${issue.message}${keys}`);
  }
  return undefined;
}
