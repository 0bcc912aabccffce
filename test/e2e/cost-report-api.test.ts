jest.mock('jose', () => jest.requireActual('../unit/chat-api/jose-cjs').joseAsCommonJs());

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SANDBOX_API_DEFAULTS } from '../../sandbox/rest-api';
import type { CostReport } from '../../tools/cost-report/build';
import { runScript } from '../helpers/run-script';
import { type SandboxProcess, startSandboxProcess } from '../helpers/sandbox-process';
import { hsToken, type TokenOptions } from '../unit/chat-api/tokens';

/**
 * Issue 13, end to end: a real authenticated `/v1/chat` call through the sandbox (API key + JWT, the real authorizer
 * and chat-api handlers), then the real `npm run cost-report` CLI against the sandbox's ledger in every format.
 * Before, one REST row made the report exit 2 ("platform: Invalid option") for every format.
 * Also the authorizer's new limits, through the sandbox's API Gateway stand-in: 401, never 500.
 */

const GROUP = 'finance-e2e';
/** The tokens' `tenant` claim, the tenant part of the REST group key (the subject is the member since issue 21). */
const SUBJECT = 'svc-finance';
let sandbox: SandboxProcess;
let out: string;

beforeAll(async () => {
  sandbox = await startSandboxProcess({ MODEL_ENGINE: 'instant' });
  out = mkdtempSync(join(tmpdir(), 'cost-report-api-'));
}, 90_000);

afterAll(async () => {
  await sandbox?.stop();
  if (out) rmSync(out, { recursive: true, force: true });
});

const nowS = () => Math.floor(Date.now() / 1000);
const token = (options: TokenOptions) =>
  hsToken({
    secret: SANDBOX_API_DEFAULTS.jwtSecret,
    iss: SANDBOX_API_DEFAULTS.jwtIssuer,
    aud: SANDBOX_API_DEFAULTS.jwtAudience,
    ...options,
  });

async function chat(authorization: string, user = 'alice') {
  const res = await fetch(`${sandbox.url}/v1/chat`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-api-key': SANDBOX_API_DEFAULTS.apiKeys,
      authorization,
      'x-group-id': GROUP,
      'x-user-id': user,
    },
    body: JSON.stringify({ query: 'How many invoices are open?' }),
  });
  return { status: res.status, body: await res.text() };
}

/** Runs `bin/cost-report.ts` (what `npm run cost-report` runs) in a child process, with `env` over ours. */
const costReport = (args: readonly string[], env: Record<string, string> = {}) =>
  runScript('bin/cost-report.ts', args, env);

const day = (offsetDays: number) => new Date(Date.now() + offsetDays * 86_400_000).toISOString().slice(0, 10);

describe('REST usage in the cost report', () => {
  beforeAll(async () => {
    const ok = await chat(`Bearer ${await token({ sub: 'alice', tenant: SUBJECT })}`);
    expect(ok.status).toBe(200);
    // A tenant of 200 characters is allowed (≤ 255) and its keys are hashed: it must work end to end too.
    const long = await chat(`Bearer ${await token({ sub: 'bob', tenant: 'L'.repeat(200) })}`, 'bob');
    expect(long.status).toBe(200);
    const until = Date.now() + 10_000;
    for (;;) {
      const rows = (await (await fetch(`${sandbox.url}/_sandbox/ledger`)).json()) as { platform: string }[];
      if (rows.filter((r) => r.platform === 'api').length >= 2 || Date.now() > until) break;
      await new Promise((r) => setTimeout(r, 200));
    }
  }, 30_000);

  const days = () => ['--from', day(-1), '--to', day(1), '--source', 'sandbox'];
  const range = () => [...days(), '--sandbox-url', sandbox.url];

  it.each(['table', 'csv', 'json'] as const)(
    '--format %s --by platform exits 0 with an api line',
    async (format) => {
      const { code, stdout, stderr } = await costReport([...range(), '--format', format, '--by', 'platform']);
      expect(stderr).toBe('');
      expect(code).toBe(0);
      if (format === 'json') {
        const report = JSON.parse(stdout) as CostReport;
        expect(report.lines.find((l) => l.key === 'api')?.invocations).toBeGreaterThanOrEqual(2);
      } else if (format === 'csv') {
        expect(stdout).toMatch(/\r\napi,\d+,/);
      } else {
        expect(stdout).toMatch(/^api +\d+ /m);
      }
    },
    30_000,
  );

  it.each(['table', 'csv', 'json'] as const)(
    '--format %s --by group shows the REST group',
    async (format) => {
      const { code, stdout } = await costReport([...range(), '--format', format, '--by', 'group']);
      expect(code).toBe(0);
      // CSV has the ids in columns of their own: platform, tenant, group.
      const separator = format === 'csv' ? ',' : '#';
      expect(stdout).toContain(['api', SUBJECT, GROUP].join(separator));
      expect(stdout).toContain(['api', 'L'.repeat(200), GROUP].join(separator));
    },
    30_000,
  );

  it('without --sandbox-url, --source sandbox reads the sandbox at PORT (as `PORT=… npm start` serves it)', async () => {
    const viaPort = await costReport([...days(), '--format', 'json'], { PORT: new URL(sandbox.url).port });
    expect(viaPort.stderr).toBe('');
    expect(viaPort.code).toBe(0);
    const viaUrl = await costReport([...range(), '--format', 'json']);
    const calls = (out: string) => (JSON.parse(out) as CostReport).lines.map((l) => [l.key, l.invocations]);
    expect(calls(viaPort.stdout)).toContainEqual([`api#${SUBJECT}#${GROUP}`, 1]);
    expect(calls(viaPort.stdout)).toEqual(calls(viaUrl.stdout));

    // A PORT nobody listens on is named in the error: the report never falls back to port 3000.
    const closed = createServer();
    await new Promise<void>((done) => closed.listen(0, '127.0.0.1', () => done()));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((done) => closed.close(() => done()));
    const down = await costReport(days(), { PORT: String(port) });
    expect(down.code).toBe(1);
    expect(down.stderr).toContain(`Cannot reach the sandbox at http://127.0.0.1:${port}/_sandbox/ledger`);
  }, 60_000);

  it('--format html --out writes a page naming the REST group', async () => {
    const file = join(out, 'report.html');
    const { code, stderr } = await costReport([...range(), '--format', 'html', '--by', 'group', '--out', file]);
    expect(code).toBe(0);
    expect(stderr).toMatch(/^cost report \(\d+ ledger rows\) written to /);
    const html = readFileSync(file, 'utf8');
    expect(html).toContain(`api#${SUBJECT}#${GROUP}`);
  }, 30_000);
});

describe('a chat event with 3,000-character ids through the whole sandbox (webhook → queue → worker)', () => {
  it.each(['dingtalk', 'feishu'] as const)(
    '%s: answered once, with a ledger row naming the real ids',
    async (platform) => {
      const chatId = `${platform}-${Date.now()}-${'c'.repeat(3000)}`;
      const userId = 'u'.repeat(3000);
      const res = await fetch(`${sandbox.url}/_sandbox/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ platform, chatId, userId, text: 'hello with long ids' }),
      });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { webhookStatus: number }).webhookStatus).toBe(200);
      const query = `platform=${platform}&chat=${encodeURIComponent(chatId)}`;
      const until = Date.now() + 20_000;
      let delivered: unknown[] = [];
      let ledger: { chatId: string; userId: string; pk: string }[] = [];
      while (Date.now() < until) {
        delivered = (await (await fetch(`${sandbox.url}/_sandbox/messages?${query}`)).json()) as unknown[];
        ledger = (await (await fetch(`${sandbox.url}/_sandbox/ledger?${query}`)).json()) as typeof ledger;
        if (delivered.length > 0 && ledger.length > 0) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      await new Promise((r) => setTimeout(r, 1_500)); // long enough for a duplicate reply to show up
      delivered = (await (await fetch(`${sandbox.url}/_sandbox/messages?${query}`)).json()) as unknown[];
      expect(delivered).toHaveLength(1);
      expect(ledger).toHaveLength(1);
      expect(ledger[0]).toMatchObject({ chatId, userId });
      expect(Buffer.byteLength(ledger[0]?.pk ?? '')).toBeLessThan(200);
    },
    30_000,
  );
});

describe('JWT limits through the sandbox REST API: 401, never 500', () => {
  it.each<[string, () => Promise<string>]>([
    ['a 3,000-character sub', () => token({ sub: 'x'.repeat(3000) })],
    ['a 256-character sub', () => token({ sub: 'x'.repeat(256) })],
    ['a sub with a newline', () => token({ sub: 'alice\nX-Admin: 1' })],
    ['iat ten minutes in the future', () => token({ sub: 'alice', nowSeconds: nowS() + 600 })],
    ['a 48-hour lifetime', () => token({ sub: 'alice', nowSeconds: nowS() - 60, exp: nowS() + 47 * 3600 })],
  ])('%s → 401', async (_name, make) => {
    const res = await chat(`Bearer ${await make()}`);
    expect(res.status).toBe(401);
  });
});
