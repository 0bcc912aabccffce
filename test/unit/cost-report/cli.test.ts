import { mkdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import type { CostReport } from '../../../tools/cost-report/build';
import { type CostReportDeps, runCostReport } from '../../../tools/cost-report/cli';
import { launchBrowser, screenshot } from '../../helpers/browser';
import { type LocalLedger, startLocalLedger } from './ledger-tables';
import { makeLedger } from './make-ledger';

/** Where a person looks at the run: git-ignored. */
const ARTIFACTS = path.join(process.cwd(), 'artifacts', 'cost-report');
const NOW = new Date('2026-12-01T00:00:00Z');
const MONTH = ['--from', '2026-11-01', '--to', '2026-11-30'];
const ledger = makeLedger({ invocations: 1200, groups: 20, from: '2026-11-01', days: 30, seed: 2026 });

let server: Server;
let sandboxUrl: string;
let dynamo: LocalLedger;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  // Stands in for the sandbox's GET /_sandbox/ledger (ARCHITECTURE §4.2): the rows as JSON, ordered by time.
  server = createServer((req, res) => {
    if (req.url === '/_sandbox/ledger')
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(ledger));
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  sandboxUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dynamo = await startLocalLedger();
  await dynamo.put(ledger);
}, 60_000);

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await dynamo.close();
});

async function run(argv: string[], env: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const deps: CostReportDeps = {
    env,
    now: () => NOW,
    documentClient: () => dynamo.doc,
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
  };
  const code = await runCostReport(argv, deps);
  return { code, stdout, stderr };
}

test('sandbox ledger of 1,200 invocations in 20 groups: table by group, saved for people to read', async () => {
  const out = path.join(ARTIFACTS, 'report-by-group.txt');
  const { code, stderr } = await run([...MONTH, '--source', 'sandbox', '--sandbox-url', sandboxUrl, '--out', out]);
  expect(stderr).toBe(`cost report (1200 ledger rows) written to ${out}\n`);
  expect(code).toBe(0);
  const table = readFileSync(out, 'utf8');
  const groupLines = table.split('\n').filter((l) => /^(feishu|slack|dingtalk|wecom)#/.test(l));
  expect(groupLines).toHaveLength(20);
  expect(table).toMatch(/^TOTAL +1200 /m);
});

test('the same month read from DynamoDB (byDay per day) gives the same report as the sandbox', async () => {
  const fromSandbox = await run([
    ...MONTH,
    '--by',
    'day',
    '--format',
    'json',
    '--source',
    'sandbox',
    '--sandbox-url',
    sandboxUrl,
  ]);
  const fromAws = await run([...MONTH, '--by', 'day', '--format', 'json'], { LEDGER_TABLE: dynamo.table });
  expect(fromAws.code).toBe(0);
  const aws = JSON.parse(fromAws.stdout) as CostReport;
  expect(aws).toEqual(JSON.parse(fromSandbox.stdout));
  expect(aws.totals.invocations).toBe(1200);
  expect(aws.lines).toHaveLength(30);
  expect(aws.totals.marginalNanoUsd).toBe(ledger.reduce((t, r) => t + r.totalNanoUsd, 0));
}, 30_000); // 30 byDay queries against dynalite: about 4 s alone, more while other suites share the machine

test('HTML report: written, then rendered by headless Chromium and screenshotted', async () => {
  const html = path.join(ARTIFACTS, 'report.html');
  const { code } = await run([
    ...MONTH,
    '--format',
    'html',
    '--source',
    'sandbox',
    '--sandbox-url',
    sandboxUrl,
    '--out',
    html,
  ]);
  expect(code).toBe(0);
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    await page.goto(`file://${html}`);
    const columns = page.locator('#cost-per-day svg g');
    expect(await columns.count()).toBe(30);
    expect(await page.locator('#top-groups .bar-row').count()).toBe(10);
    const box = await page.locator('#cost-per-day svg').boundingBox();
    expect(box?.width).toBeGreaterThan(800);
    await screenshot(page, path.join(ARTIFACTS, 'report.png'));
  } finally {
    await browser.close();
  }
}, 60_000);

test('bad arguments exit 2 with every problem; an unreachable sandbox exits 1', async () => {
  const bad = await run(['--from', '2026-11-31', '--by', 'team']);
  expect(bad.code).toBe(2);
  expect(bad.stdout).toBe('');
  expect(bad.stderr).toContain('--from: "2026-11-31" is not a calendar day');
  expect(bad.stderr).toContain('--to: required');
  expect(bad.stderr).toContain('--by: "team" is not one of');
  expect(bad.stderr).toContain('--table: required with --source aws');

  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', () => resolve()));
  const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const down = await run([...MONTH, '--source', 'sandbox', '--sandbox-url', url]);
  expect(down.code).toBe(1);
  expect(down.stderr).toContain('Cannot reach the sandbox');
});

test('--help prints the usage and exits 0', async () => {
  const help = await run(['--help']);
  expect(help.code).toBe(0);
  expect(help.stdout).toContain('--by group|user|day|platform');
});
