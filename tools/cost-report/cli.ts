import { writeFile } from 'node:fs/promises';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GroupGateError } from '#core/errors';
import { daysBetween, parseReportArgs, type ReportArgs, USAGE } from './args';
import { buildCostReport, type CostReport } from './build';
import { renderHtml } from './html';
import { renderCsv, renderJson, renderTable } from './render';
import { fetchSandboxLedger, queryLedgerDays, toReportRows } from './source';

/** What the command needs from the outside world; `bin/cost-report.ts` passes the real ones, tests their own. */
export interface CostReportDeps {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly now: () => Date;
  /** A DynamoDB document client for `region` (credentials from the standard chain). */
  readonly documentClient: (region: string) => Pick<DynamoDBDocumentClient, 'send'>;
  readonly fetch?: typeof fetch;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly writeFile?: (path: string, text: string) => Promise<void>;
}

export function render(report: CostReport, format: ReportArgs['format']): string {
  switch (format) {
    case 'table':
      return renderTable(report);
    case 'csv':
      return renderCsv(report);
    case 'json':
      return renderJson(report);
    case 'html':
      return renderHtml(report);
  }
}

async function readItems(args: ReportArgs, deps: CostReportDeps): Promise<unknown[]> {
  if (args.source === 'sandbox') return fetchSandboxLedger(args.sandboxUrl, deps.fetch);
  return queryLedgerDays(deps.documentClient(args.region), args.table ?? '', daysBetween(args.from, args.to) ?? []);
}

/**
 * `npm run cost-report -- ...`: reads the ledger, builds the report and prints it (or writes `--out`).
 * Returns the exit code: 0 done, 2 bad arguments or unusable rows, 1 anything else (AWS, network, disk).
 */
export async function runCostReport(argv: readonly string[], deps: CostReportDeps): Promise<number> {
  try {
    const args = parseReportArgs(argv, deps.env);
    if (args.help) {
      deps.stdout(`${USAGE}\n`);
      return 0;
    }
    const now = deps.now();
    const rows = toReportRows(await readItems(args, deps), { from: args.from, to: args.to, now });
    const report = buildCostReport(rows, {
      from: args.from,
      to: args.to,
      by: args.by,
      now,
      region: args.region,
      instanceType: args.instanceType,
      instances: args.instances,
      ...(args.instancePriceUsd === undefined ? {} : { instancePriceUsd: args.instancePriceUsd }),
      ...(args.scaleToZero === undefined ? {} : { scaleToZero: args.scaleToZero }),
      ...(args.connector === undefined ? {} : { connector: args.connector }),
    });
    const text = render(report, args.format);
    if (args.out) {
      await (deps.writeFile ?? ((path, data) => writeFile(path, data, 'utf8')))(args.out, text);
      deps.stderr(`cost report (${rows.length} ledger rows) written to ${args.out}\n`);
    } else {
      deps.stdout(text);
    }
    return 0;
  } catch (error) {
    deps.stderr(`${error instanceof Error ? error.message : String(error)}\n`);
    return error instanceof GroupGateError && error.httpStatus < 500 ? 2 : 1;
  }
}
