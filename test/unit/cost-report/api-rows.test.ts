import { costOfInvocation, type InvocationUsage } from '#core/cost/cost-model';
import { buildLedgerRow, type LedgerRow } from '#core/cost/ledger-row';
import { resolvePrices } from '#core/cost/prices';
import { hashedId } from '#core/key-part';
import { LEDGER_PLATFORMS } from '#platforms/types';
import { REPORT_BY, REPORT_FORMATS } from '../../../tools/cost-report/args';
import type { CostReport } from '../../../tools/cost-report/build';
import { type CostReportDeps, runCostReport } from '../../../tools/cost-report/cli';
import { toReportRows } from '../../../tools/cost-report/source';
import { makeLedger } from './make-ledger';

/**
 * Issue 13: one `/v1/chat` call used to make `npm run cost-report` exit 2 for every format ("platform: Invalid
 * option"). REST rows (`platform: 'api'`) are now a platform of their own, in every grouping and every format.
 */

const NOW = new Date('2026-12-01T00:00:00Z');
const RANGE = ['--from', '2026-11-01', '--to', '2026-11-30'];
const prices = resolvePrices('us-east-1');

/** A ledger row exactly as chat-api.ts records a REST call: API Gateway + the chat-api Lambda, no SQS. */
function apiRow(i: number, overrides: { tenantId?: string; chatId?: string; userId?: string; cached?: boolean } = {}) {
  const cached = overrides.cached ?? false;
  const usage: InvocationUsage = {
    apiGatewayRequests: 1,
    lambda: [{ fn: 'chat-api', memoryMb: 1024, billedMs: 900 + i, arch: 'arm64' }],
    sqsPayloadBytes: 0,
    sqsRequests: { send: 0, receive: 0, delete: 0 },
    dynamodb: { readRequestUnits: 1.5, writeRequestUnits: 4 },
    logBytes: 1500,
    sagemaker: cached ? null : { instanceType: 'ml.g4dn.xlarge', busyMs: 800 + i },
    tokens: cached ? { prompt: 0, completion: 0 } : { prompt: 120 + i, completion: 60 },
  };
  return buildLedgerRow({
    invocationId: `req-${i}`,
    eventId: `req-${i}`,
    platform: 'api',
    tenantId: overrides.tenantId ?? 'svc-helpdesk',
    chatId: overrides.chatId ?? 'eng',
    userId: overrides.userId ?? `u${i % 2}`,
    at: new Date(Date.UTC(2026, 10, 3 + (i % 5), 4, i)),
    model: 'qwen2.5-7b-instruct-int8',
    latencyMs: 950,
    cached,
    usage,
    breakdown: costOfInvocation(usage, prices),
    retentionDays: 400,
  });
}

const chatRows = makeLedger({ invocations: 200, groups: 8, from: '2026-11-01', days: 30, seed: 13 });
const restRows = [...Array.from({ length: 6 }, (_, i) => apiRow(i)), apiRow(6, { cached: true, chatId: 'ops' })];
const mixed: LedgerRow[] = [...chatRows, ...restRows].sort((a, b) => a.at.localeCompare(b.at));

async function report(rows: readonly unknown[], argv: readonly string[]) {
  let stdout = '';
  let stderr = '';
  const deps: CostReportDeps = {
    env: {},
    now: () => NOW,
    documentClient: () => {
      throw new Error('the sandbox source does not use DynamoDB');
    },
    fetch: (async () => new Response(JSON.stringify(rows), { status: 200 })) as typeof fetch,
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
  };
  const code = await runCostReport([...RANGE, '--source', 'sandbox', ...argv], deps);
  return { code, stdout, stderr };
}

test('the ledger platform type covers the chat platforms and api', () => {
  expect(LEDGER_PLATFORMS).toEqual(['feishu', 'slack', 'dingtalk', 'wecom', 'api']);
  expect(restRows[0]).toMatchObject({ platform: 'api', pk: 'GROUP#api#svc-helpdesk#eng' });
});

test('toReportRows accepts api rows and still refuses unknown platforms', () => {
  expect(toReportRows(mixed, { from: '2026-11-01', to: '2026-11-30', now: NOW })).toHaveLength(mixed.length);
  expect(() =>
    toReportRows([{ ...restRows[0], platform: 'teams' }], { from: '2026-11-01', to: '2026-11-30', now: NOW }),
  ).toThrow(/row 0: platform/);
});

test('toReportRows keeps which model answered a row, and refuses a value it does not know', () => {
  const range = { from: '2026-11-01', to: '2026-11-30', now: NOW };
  const [kept] = toReportRows([{ ...restRows[0], modelSource: 'fallback' }], range);
  expect(kept?.modelSource).toBe('fallback');
  expect(() => toReportRows([{ ...restRows[0], modelSource: 'backup' }], range)).toThrow(/row 0: modelSource/);
});

describe.each(REPORT_FORMATS)('--format %s with REST rows', (format) => {
  it.each(REPORT_BY)('--by %s exits 0 and shows api on its own line', async (by) => {
    const { code, stdout, stderr } = await report(mixed, ['--format', format, '--by', by]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const expectedKey = {
      group: 'api#svc-helpdesk#eng',
      user: 'api#svc-helpdesk#u0',
      platform: 'api',
      day: '2026-11-03',
    }[by];
    // CSV splits group and user keys into platform, tenant and group/user columns.
    expect(stdout).toContain(format === 'csv' ? expectedKey.replaceAll('#', ',') : expectedKey);
    if (format === 'json') {
      const json = JSON.parse(stdout) as CostReport;
      expect(json.totals.invocations).toBe(mixed.length);
      if (by === 'platform') {
        const api = json.lines.find((l) => l.key === 'api');
        expect(api).toMatchObject({ invocations: 7, cachedInvocations: 1 });
        expect(api?.marginalNanoUsd).toBe(restRows.reduce((t, r) => t + r.totalNanoUsd, 0));
        expect(json.lines.map((l) => l.key)).toEqual(['api', 'dingtalk', 'feishu', 'slack', 'wecom']);
      }
      if (by === 'group') {
        expect(json.lines.filter((l) => l.key.startsWith('api#')).map((l) => l.key)).toEqual([
          'api#svc-helpdesk#eng',
          'api#svc-helpdesk#ops',
        ]);
      }
    }
    if (format === 'csv')
      expect(stdout).toMatch(
        by === 'platform' ? /\r\napi,7,1,/ : new RegExp(`\\r\\n${expectedKey.replaceAll('#', ',')},`),
      );
    if (format === 'table' && by === 'platform') expect(stdout).toMatch(/^api +7 +1 /m);
  });
});

test('REST rows only: the top groups are the REST groups, named by their real ids even where the key is hashed', async () => {
  const longSub = 's'.repeat(200);
  const rows = [apiRow(1), apiRow(2, { tenantId: longSub, chatId: 'ops#1' })];
  expect(rows[1]?.pk).toBe(`GROUP#api#${hashedId(longSub)}#ops%231`); // the stored key is bounded
  const { code, stdout } = await report(rows, ['--format', 'json', '--by', 'group']);
  expect(code).toBe(0);
  const json = JSON.parse(stdout) as CostReport;
  expect(json.topGroups.map((l) => l.key).sort()).toEqual([`api#${longSub}#ops%231`, 'api#svc-helpdesk#eng']);
});
