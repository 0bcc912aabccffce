import { costOfInvocation } from '#core/cost/cost-model';
import { aggregate, buildLedgerRow, type LedgerRowInput, withModelSource } from '#core/cost/ledger-row';
import { resolvePrices } from '#core/cost/prices';
import { ValidationError } from '#core/errors';
import { usage } from './usage-fixture';

const prices = resolvePrices('us-east-1');

function input(overrides: Partial<LedgerRowInput> = {}): LedgerRowInput {
  const u = overrides.usage ?? usage();
  return {
    invocationId: 'inv-1',
    eventId: 'evt-1',
    platform: 'feishu',
    tenantId: 't1',
    chatId: 'oc_group',
    userId: 'ou_alice',
    at: new Date('2026-11-25T23:59:30.250Z'),
    model: 'groupgate-8b-int8',
    latencyMs: 1900,
    cached: false,
    usage: u,
    breakdown: costOfInvocation(u, prices),
    retentionDays: 400,
    ...overrides,
  };
}

describe('buildLedgerRow', () => {
  it('builds the DynamoDB item with keys, day index and TTL from the retention', () => {
    const row = buildLedgerRow(input());
    expect(row.pk).toBe('GROUP#feishu#t1#oc_group');
    expect(row.sk).toBe('2026-11-25T23:59:30.250Z#inv-1');
    expect(row.day).toBe('2026-11-25');
    expect(row.expiresAt).toBe(Math.floor(Date.parse('2026-11-25T23:59:30.250Z') / 1000) + 400 * 86_400);
    expect(row.tokens).toEqual({ prompt: 420, completion: 96, total: 516 });
  });

  it('escapes # in ids so keys stay unambiguous', () => {
    expect(buildLedgerRow(input({ chatId: 'a#b' })).pk).toBe('GROUP#feishu#t1#a%23b');
  });

  it('is self-explanatory JSON with the component breakdown and a numeric totalUsd', () => {
    const json = JSON.parse(JSON.stringify(buildLedgerRow(input())));
    expect(typeof json.totalUsd).toBe('number');
    expect(Object.keys(json.components).sort()).toEqual([
      'apiGateway',
      'dynamodb',
      'lambda',
      'logs',
      'sagemaker',
      'sqs',
      'voice',
    ]);
    const sumNano = Object.values(json.componentsNanoUsd as Record<string, number>).reduce((a, b) => a + b, 0);
    expect(json.totalNanoUsd).toBe(sumNano);
    expect(json.totalUsd).toBe(sumNano / 1e9);
    expect(json).toMatchObject({
      basis: 'marginal',
      priceTableVersion: expect.any(String),
      region: 'us-east-1',
      usage: { sagemaker: { instanceType: 'ml.g4dn.xlarge' } },
      quantities: { sqsBilledRequests: 3 },
    });
  });

  it.each([
    ['an invalid time', { at: new Date('nope') }, /at is not a valid time/],
    ['a zero retention', { retentionDays: 0 }, /retentionDays/],
    ['a negative latency', { latencyMs: -1 }, /latencyMs/],
    ['an empty user id', { userId: '' }, /userId is empty/],
    ['a cached answer with SageMaker usage', { cached: true }, /cached answer/],
  ])('rejects %s', (_name, patch, message) => {
    expect(() => buildLedgerRow(input(patch))).toThrow(ValidationError);
    expect(() => buildLedgerRow(input(patch))).toThrow(message);
  });
});

describe('aggregate', () => {
  const cachedUsage = usage({ sagemaker: null, apiGatewayRequests: 1 });
  const rows = [
    buildLedgerRow(input({ invocationId: '1' })),
    buildLedgerRow(input({ invocationId: '2', userId: 'ou_bob', at: new Date('2026-11-26T01:00:00Z') })),
    buildLedgerRow(
      input({
        invocationId: '3',
        platform: 'slack',
        tenantId: 'T9',
        chatId: 'C1',
        userId: 'U1',
        cached: true,
        usage: cachedUsage,
        breakdown: costOfInvocation(cachedUsage, prices),
      }),
    ),
  ];
  const [r1, r2, r3] = rows;

  it('sums per group with totals exactly equal to the components', () => {
    const byGroup = aggregate(rows, 'group');
    expect(byGroup.map((g) => g.key)).toEqual(['feishu#t1#oc_group', 'slack#T9#C1']);
    const feishu = byGroup[0];
    expect(feishu?.invocations).toBe(2);
    expect(feishu?.tokens).toEqual({ prompt: 840, completion: 192, total: 1032 });
    expect(feishu?.totalNanoUsd).toBe((r1?.totalNanoUsd ?? 0) + (r2?.totalNanoUsd ?? 0));
    expect(feishu?.componentsNanoUsd.sagemaker).toBe(2 * (r1?.componentsNanoUsd.sagemaker ?? 0));
    for (const g of byGroup) {
      expect(g.totalNanoUsd).toBe(Object.values(g.componentsNanoUsd).reduce((a, b) => a + b, 0));
      expect(g.totalUsd).toBe(g.totalNanoUsd / 1e9);
    }
    expect(byGroup[1]).toMatchObject({ invocations: 1, cachedInvocations: 1, totalNanoUsd: r3?.totalNanoUsd });
    expect(byGroup[1]?.components.sagemaker).toBe(0);
  });

  it('sums per user, day and platform', () => {
    expect(aggregate(rows, 'user').map((u) => [u.key, u.invocations])).toEqual([
      ['feishu#t1#ou_alice', 1],
      ['feishu#t1#ou_bob', 1],
      ['slack#T9#U1', 1],
    ]);
    expect(aggregate(rows, 'day').map((d) => [d.key, d.invocations])).toEqual([
      ['2026-11-25', 2],
      ['2026-11-26', 1],
    ]);
    const byPlatform = aggregate(rows, 'platform');
    expect(byPlatform.map((p) => [p.key, p.invocations])).toEqual([
      ['feishu', 2],
      ['slack', 1],
    ]);
    const all = rows.reduce((a, r) => a + r.totalNanoUsd, 0);
    expect(byPlatform.reduce((a, p) => a + p.totalNanoUsd, 0)).toBe(all);
  });

  it('returns nothing for no rows', () => {
    expect(aggregate([], 'day')).toEqual([]);
  });
});

describe('which model answered (modelSource)', () => {
  const fallbackUsage = usage({
    sagemaker: null,
    lambda: [
      { fn: 'worker', memoryMb: 1024, billedMs: 5200, arch: 'arm64' },
      { fn: 'model', memoryMb: 3008, billedMs: 4200, arch: 'arm64' },
    ],
  });
  const fallbackRow = () =>
    buildLedgerRow(
      input({ model: 'fallback-cpu', usage: fallbackUsage, breakdown: costOfInvocation(fallbackUsage, prices) }),
    );

  it('is absent until a model is named, and marks the row without changing what it cost', () => {
    const row = fallbackRow();
    expect(row).not.toHaveProperty('modelSource');
    const marked = withModelSource(row, 'fallback');
    expect(marked).toEqual({ ...row, modelSource: 'fallback' });
    expect(JSON.parse(JSON.stringify(marked))).toMatchObject({ model: 'fallback-cpu', modelSource: 'fallback' });
    expect(withModelSource(row, undefined)).toBe(row);
  });

  it('refuses to mark a cached row: no model answered it', () => {
    const cachedUsage = usage({ sagemaker: null });
    const cached = buildLedgerRow(
      input({ cached: true, usage: cachedUsage, breakdown: costOfInvocation(cachedUsage, prices) }),
    );
    expect(() => withModelSource(cached, 'primary')).toThrow(ValidationError);
  });

  it('counts fallback answers per group; rows without a source (older rows, cache hits) count as none', () => {
    const rows = [
      withModelSource(buildLedgerRow(input({ invocationId: '1' })), 'primary'),
      withModelSource(fallbackRow(), 'fallback'),
      buildLedgerRow(input({ invocationId: '3', chatId: 'oc_other' })),
    ];
    expect(aggregate(rows, 'group').map((g) => [g.key, g.invocations, g.fallbackInvocations])).toEqual([
      ['feishu#t1#oc_group', 2, 1],
      ['feishu#t1#oc_other', 1, 0],
    ]);
  });
});
