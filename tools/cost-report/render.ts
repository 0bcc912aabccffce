import { COST_COMPONENTS } from '#core/cost/cost-model';
import type { CostReport, ReportLine } from './build';

/**
 * Integer nano-dollars as a decimal USD string with `digits` decimals, rounded half away from zero, without
 * ever going through a float (so CSV totals re-add exactly at 9 digits).
 */
export function formatNano(nano: number, digits = 9): string {
  const negative = nano < 0;
  let abs = BigInt(Math.abs(nano));
  const drop = 10n ** BigInt(9 - digits);
  abs = (abs + drop / 2n) / drop;
  const scale = 10n ** BigInt(digits);
  const whole = abs / scale;
  const fraction = (abs % scale).toString().padStart(digits, '0');
  const text = digits > 0 ? `${whole}.${fraction}` : `${whole}`;
  return negative && abs !== 0n ? `-${text}` : text;
}

const COLUMNS = [
  'invocations',
  'cached',
  'prompt_tokens',
  'completion_tokens',
  ...COST_COMPONENTS.map((c) => `${c}_usd`),
  'marginal_usd',
  'idle_share_usd',
  'amortised_usd',
] as const;

function cells(line: ReportLine, digits: number): string[] {
  return [
    String(line.invocations),
    String(line.cachedInvocations),
    String(line.tokens.prompt),
    String(line.tokens.completion),
    ...COST_COMPONENTS.map((c) => formatNano(line.componentsNanoUsd[c], digits)),
    formatNano(line.marginalNanoUsd, digits),
    formatNano(line.idleShareNanoUsd, digits),
    formatNano(line.amortisedNanoUsd, digits),
  ];
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

/** CSV with a header, one line per key, then TOTAL; amounts at full nano-dollar precision. */
export function renderCsv(report: CostReport): string {
  const header = [report.by, ...COLUMNS].join(',');
  const body = [...report.lines, report.totals].map((l) => [csvField(l.key), ...cells(l, 9)].join(','));
  return `${[header, ...body].join('\r\n')}\r\n`;
}

export function renderJson(report: CostReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

/** A plain-text table for the terminal (USD to 4 decimals), with the assumptions and the reconciliation below it. */
export function renderTable(report: CostReport): string {
  const header = [report.by.toUpperCase(), ...COLUMNS.map((c) => c.replace(/_usd$/, '').replaceAll('_', ' '))];
  const rows = [...report.lines, report.totals].map((l) => [l.key, ...cells(l, 4)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const format = (r: readonly string[]) =>
    r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ');
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  const e = report.endpoint;
  return [
    `GroupGate cost report ${report.from} .. ${report.to}, by ${report.by} (USD; generated ${report.generatedAt})`,
    '',
    format(header),
    rule,
    ...rows.slice(0, -1).map(format),
    rule,
    format(rows[rows.length - 1] ?? []),
    '',
    `Endpoint: ${e.instances} x ${e.instanceType} at $${e.pricePerInstanceHourUsd}/h (${e.priceSource}), ` +
      `${report.billedInstanceHours.toFixed(2)} instance-hours billed = $${report.endpointBillUsd.toFixed(4)}`,
    `Idle endpoint hours with no invocation: $${formatNano(report.idleUnattributedNanoUsd, 4)}`,
    `Grand total (amortised + idle unattributed): $${formatNano(report.grandTotalNanoUsd, 4)}`,
    'marginal = what the invocations used; amortised = marginal + their share of idle endpoint time in the same hour',
    '',
  ].join('\n');
}
