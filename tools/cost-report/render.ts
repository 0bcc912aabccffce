import { COST_COMPONENTS } from '#core/cost/cost-model';
import { nanoToUsd } from '#core/cost/exact';
import type { AggregateBy } from '#core/cost/ledger-row';
import { splitDisplayKey } from '#core/key-part';
import { type CostReport, connectorText, type ReportLine, runningWindowText, scaleToZeroText } from './build';
import { formatMicroUsd, formatNano, MICRO_USD } from './money';

const COUNT_COLUMNS = ['invocations', 'cached', 'by_backup_model', 'prompt_tokens', 'completion_tokens'] as const;
const MONEY_COLUMNS = [
  ...COST_COMPONENTS.map((c) => `${c}_usd`),
  'marginal_usd',
  'idle_share_usd',
  'amortised_usd',
] as const;

/** The CSV's key columns: a group or user key is split into the ids it is made of, so a spreadsheet can pivot. */
export const CSV_KEY_COLUMNS: Readonly<Record<AggregateBy, readonly string[]>> = {
  group: ['platform', 'tenant', 'group'],
  user: ['platform', 'tenant', 'user'],
  day: ['day'],
  platform: ['platform'],
};

/** Rows after the lines: their sum, the endpoint hours nobody used, and both together (what the bill says). */
export const CSV_SUMMARY_LABELS = {
  total: 'TOTAL',
  idle: 'IDLE HOURS WITHOUT INVOCATIONS',
  grandTotal: 'GRAND TOTAL',
  /** With `--scale-to-zero`: the saving, in `amortised_usd`; not part of any total above it. */
  scaleToZeroSaving: 'SCALE-TO-ZERO SAVING (NOT IN TOTALS)',
  /** With `--connector-tasks`: the connector's fixed cost, in `amortised_usd`; then the grand total with it. */
  connector: 'CONNECTOR FIXED COST (NOT IN TOTALS)',
  withConnector: 'GRAND TOTAL WITH CONNECTOR',
} as const;

function counts(line: ReportLine): string[] {
  return [
    line.invocations,
    line.cachedInvocations,
    line.fallbackInvocations,
    line.tokens.prompt,
    line.tokens.completion,
  ].map(String);
}

function money(line: ReportLine, format: (nano: number) => string): string[] {
  return [
    ...COST_COMPONENTS.map((c) => line.componentsNanoUsd[c]),
    line.marginalNanoUsd,
    line.idleShareNanoUsd,
    line.amortisedNanoUsd,
  ].map((nano) => format(nano));
}

/**
 * One CSV field per RFC 4180: quoted when it holds a comma, quote, CR or LF, quotes doubled. A text field that a
 * spreadsheet would run as a formula (leading `=`, `+`, `-`, `@`, tab or CR) is prefixed with `'` (OWASP CSV
 * injection advice): group and user ids come from chat platforms, not from us.
 */
export function csvField(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

/** The ids a line's key is made of, one per CSV key column. */
function keyFields(key: string, by: AggregateBy): string[] {
  return by === 'group' || by === 'user' ? splitDisplayKey(key) : [key];
}

/**
 * A summary record with no invocations, tokens or components: only amounts in the idle-share and amortised columns.
 */
function amountLine(
  key: string,
  amounts: {
    readonly idleShareNanoUsd: number;
    readonly idleShareUsd: number;
    readonly amortisedNanoUsd: number;
    readonly amortisedUsd: number;
  },
): ReportLine {
  const zero = Object.fromEntries(COST_COMPONENTS.map((c) => [c, 0])) as ReportLine['componentsNanoUsd'];
  return {
    key,
    invocations: 0,
    cachedInvocations: 0,
    fallbackInvocations: 0,
    tokens: { prompt: 0, completion: 0, total: 0 },
    componentsNanoUsd: zero,
    marginalNanoUsd: 0,
    marginalUsd: 0,
    ...amounts,
  };
}

/** `line` with only the idle share: the endpoint hours no invocation ran in. */
function idleLine(report: CostReport): ReportLine {
  return amountLine(CSV_SUMMARY_LABELS.idle, {
    idleShareNanoUsd: report.idleUnattributedNanoUsd,
    idleShareUsd: report.idleUnattributedUsd,
    amortisedNanoUsd: report.idleUnattributedNanoUsd,
    amortisedUsd: report.idleUnattributedUsd,
  });
}

/** The scale-to-zero saving as a summary record: nothing but its amount, in `amortised_usd`. */
function savingLine(savedNanoUsd: number): ReportLine {
  return fixedLine(CSV_SUMMARY_LABELS.scaleToZeroSaving, savedNanoUsd);
}

/** A summary record holding one amount, in `amortised_usd`. */
function fixedLine(label: string, nano: number): ReportLine {
  return amountLine(label, {
    idleShareNanoUsd: 0,
    idleShareUsd: 0,
    amortisedNanoUsd: nano,
    amortisedUsd: nanoToUsd(BigInt(nano)),
  });
}

/** TOTAL plus the idle hours, column by column: its `amortised_usd` is the report's grand total. */
function grandTotalLine(report: CostReport): ReportLine {
  const t = report.totals;
  const idle = report.idleUnattributedNanoUsd;
  return {
    ...t,
    key: CSV_SUMMARY_LABELS.grandTotal,
    idleShareNanoUsd: t.idleShareNanoUsd + idle,
    amortisedNanoUsd: report.grandTotalNanoUsd,
    idleShareUsd: nanoToUsd(BigInt(t.idleShareNanoUsd + idle)),
    amortisedUsd: report.grandTotalUsd,
  };
}

/**
 * CSV: a header, one record per key (group and user keys split into `platform`, `tenant`, `group`/`user`), then
 * TOTAL, the idle hours without invocations and the GRAND TOTAL, which adds up to the endpoint bill plus the request
 * path. Summary records carry their label in the first column. Amounts in USD to the nano-dollar (9 decimals, exact).
 */
export function renderCsv(report: CostReport): string {
  const keyColumns = CSV_KEY_COLUMNS[report.by];
  const record = (fields: readonly string[], line: ReportLine) =>
    [...fields.map(csvField), ...counts(line), ...money(line, formatNano)].join(',');
  const summary = (line: ReportLine) => record([line.key, ...keyColumns.slice(1).map(() => '')], line);
  const header = [...keyColumns, ...COUNT_COLUMNS, ...MONEY_COLUMNS].join(',');
  const body = [
    ...report.lines.map((l) => record(keyFields(l.key, report.by), l)),
    summary(report.totals),
    summary(idleLine(report)),
    summary(grandTotalLine(report)),
    ...(report.scaleToZero ? [summary(savingLine(report.scaleToZero.savedNanoUsd))] : []),
    ...(report.connector
      ? [
          summary(fixedLine(CSV_SUMMARY_LABELS.connector, report.connector.billNanoUsd)),
          summary(fixedLine(CSV_SUMMARY_LABELS.withConnector, report.connector.withConnectorNanoUsd)),
        ]
      : []),
  ];
  return `${[header, ...body].join('\r\n')}\r\n`;
}

export function renderJson(report: CostReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

/** `$1,234.57`: a sum rounded to the cent, for the sentence next to its exact µUSD figure. */
function cents(nano: number): string {
  return `$${formatNano(nano, 2).replace(/\B(?=(\d{3})+\.)/g, ',')}`;
}

/**
 * A plain-text table for the terminal. Every amount is in µUSD with three decimals, exact to the nano-dollar: a
 * single invocation's SQS or API Gateway cost is a few µUSD, which four-decimal dollars would print as 0.0000. A
 * units row under the header names the unit of every money column; the assumptions and the reconciliation follow.
 */
export function renderTable(report: CostReport): string {
  const header = [
    report.by.toUpperCase(),
    ...COUNT_COLUMNS.map((c) => c.replaceAll('_', ' ')),
    ...MONEY_COLUMNS.map((c) => c.replace(/_usd$/, '').replaceAll('_', ' ')),
  ];
  const units = ['', ...COUNT_COLUMNS.map(() => ''), ...MONEY_COLUMNS.map(() => MICRO_USD)];
  const rows = [...report.lines, report.totals].map((l) => [l.key, ...counts(l), ...money(l, formatMicroUsd)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const format = (r: readonly string[]) =>
    r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ');
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  const e = report.endpoint;
  const bill = report.endpointBillNanoUsd;
  return [
    `GroupGate cost report ${report.from} .. ${report.to} (UTC days), by ${report.by}; generated ${report.generatedAt}`,
    `Amounts in ${MICRO_USD} (micro-dollars: 1,000,000 ${MICRO_USD} = $1), exact to the nano-dollar.`,
    ...report.notes.map((note) => `NOTE: ${note}`),
    '',
    format(header),
    format(units),
    rule,
    ...rows.slice(0, -1).map(format),
    rule,
    format(rows[rows.length - 1] ?? []),
    '',
    `Endpoint assumed running: ${e.instances} x ${e.instanceType}, ${runningWindowText(e)}, ` +
      `at $${e.pricePerInstanceHourUsd} per instance-hour (${e.priceSource}).`,
    `Endpoint bill: ${report.billedInstanceHours.toFixed(2)} instance-hours = ${formatMicroUsd(bill)} ${MICRO_USD} ` +
      `(${cents(bill)}).`,
    `Idle endpoint hours without invocations (in no line above): ${formatMicroUsd(report.idleUnattributedNanoUsd)} ` +
      `${MICRO_USD}.`,
    `Grand total (TOTAL amortised + idle hours without invocations): ${formatMicroUsd(report.grandTotalNanoUsd)} ` +
      `${MICRO_USD} (${cents(report.grandTotalNanoUsd)}).`,
    'marginal = what the invocations used (their ledger rows); idle share = their share of the endpoint time no ' +
      'invocation used in the same UTC hour, split by busy time; amortised = marginal + idle share.',
    ...(report.scaleToZero
      ? scaleToZeroText(report.scaleToZero, (nano) => `${formatMicroUsd(nano)} ${MICRO_USD} (${cents(nano)})`)
      : []),
    ...(report.connector
      ? [connectorText(report.connector, (nano) => `${formatMicroUsd(nano)} ${MICRO_USD} (${cents(nano)})`)]
      : []),
    '',
  ].join('\n');
}
