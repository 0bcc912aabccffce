import { DEFAULT_MESSAGES, type PipelinePorts, runPipeline } from '#core/answer-pipeline';
import { costSkill } from '#core/skills/cost';
import { resetSkill } from '#core/skills/reset';
import { activeUserKey } from '#stores/active-users';
import { formatUsage, monthStart, sumUsage, type UsageRow } from '#stores/usage-query';

const NOW = Date.UTC(2026, 10, 25, 9, 30, 0);
const LIVE = NOW / 1000 + 86_400;

describe('/cost in the pipeline', () => {
  function ports(usage?: () => Promise<string>) {
    const calls: string[] = [];
    const p: PipelinePorts = {
      loadContext: async () => {
        calls.push('loadContext');
        return { turns: [], handle: undefined };
      },
      clearContext: async () => {
        calls.push('clearContext');
      },
      cacheKey: () => undefined,
      primaryModelId: 'm',
      cacheGet: async () => undefined,
      moderateInput: async (text) => ({ decision: 'allow', text, maxLevel: 0 }),
      moderateOutput: async (text) => ({ decision: 'allow', text, maxLevel: 0 }),
      maskPii: (text) => ({ text, found: 0 }),
      buildMessages: ({ question }) => ({
        messages: [{ role: 'user', content: question }],
        maxTokens: 64,
        sourcesIncluded: 0,
      }),
      invokeModel: async () => {
        calls.push('invokeModel');
        return {
          content: 'model answer',
          finishReason: 'stop',
          promptTokens: 1,
          completionTokens: 1,
          latencyMs: 1,
          modelId: 'm',
          billing: { kind: 'free' },
        };
      },
      // As the composition builds it: /cost only where the caller names the member.
      skills: [resetSkill(DEFAULT_MESSAGES.contextCleared), ...(usage ? [costSkill(usage)] : [])],
      messages: DEFAULT_MESSAGES,
    };
    return { ports: p, calls };
  }
  const turn = (text: string) => ({ conversationKey: 'slack#T#C#U', text, deadline: NOW + 10_000 });

  it.each(['/cost', '/COST', '  #费用 ', '/费用'])(
    'answers %p from the cost skill without the model or context',
    async (text) => {
      const { ports: p, calls } = ports(async () => 'usage report');
      const outcome = await runPipeline(turn(text), p);
      expect(outcome).toMatchObject({ reply: 'usage report', source: 'command', inputFilter: 'allow' });
      expect(outcome.saveTurn).toBeUndefined();
      expect(outcome.cachePut).toBeUndefined();
      expect(calls).toEqual([]);
    },
  );

  it('treats /cost as a question where the caller composes no cost skill', async () => {
    const { ports: p, calls } = ports();
    const outcome = await runPipeline(turn('/cost'), p);
    expect(outcome.source).toBe('model');
    expect(calls).toContain('invokeModel');
  });

  it('does not take a question that merely mentions /cost for the command', async () => {
    const usage = jest.fn(async () => 'usage report');
    const { ports: p } = ports(usage);
    const outcome = await runPipeline(turn('what does /cost show?'), p);
    expect(outcome.source).toBe('model');
    expect(usage).not.toHaveBeenCalled();
  });

  it('lets a failed ledger read fail the turn (the worker retries it) rather than answer wrongly', async () => {
    const { ports: p } = ports(async () => {
      throw new Error('ProvisionedThroughputExceededException');
    });
    await expect(runPipeline(turn('/cost'), p)).rejects.toThrow('ProvisionedThroughputExceededException');
  });
});

describe('usage sums', () => {
  it('starts the month at 00:00 UTC on the 1st, also on the last millisecond of a month', () => {
    expect(monthStart(NOW)).toBe('2026-11-01T00:00:00.000Z');
    expect(monthStart(Date.UTC(2026, 11, 31, 23, 59, 59, 999))).toBe('2026-12-01T00:00:00.000Z');
    expect(monthStart(Date.UTC(2027, 0, 1))).toBe('2027-01-01T00:00:00.000Z');
  });

  it('sums the group and the member exactly in nano-dollars, and skips rows past their TTL', () => {
    const rows: UsageRow[] = [
      { userId: 'alice', totalNanoUsd: 100_000_001, expiresAt: LIVE },
      { userId: 'alice', totalNanoUsd: 200_000_002, expiresAt: LIVE },
      { userId: 'bob', totalNanoUsd: 300_000_003, expiresAt: LIVE },
      { userId: 'alice', totalNanoUsd: 999_000_000, expiresAt: NOW / 1000 - 1 },
    ];
    expect(sumUsage(rows, 'alice', NOW)).toEqual({
      month: '2026-11',
      user: { invocations: 2, usd: 0.300000003 },
      group: { invocations: 3, usd: 0.600000006 },
    });
    expect(sumUsage(rows, 'carol', NOW).user).toEqual({ invocations: 0, usd: 0 });
    expect(sumUsage([], 'alice', NOW).group).toEqual({ invocations: 0, usd: 0 });
  });

  it('formats sub-dollar amounts to four decimals and larger ones to cents', () => {
    const text = formatUsage({
      month: '2026-11',
      user: { invocations: 3, usd: 0.00123 },
      group: { invocations: 1200, usd: 12.345 },
    });
    expect(text).toBe(
      [
        '本月用量 Usage in 2026-11 (UTC, marginal cost):',
        '- 你 You: 3 次 invocations, $0.0012',
        '- 本群 This group: 1200 次 invocations, $12.35',
      ].join('\n'),
    );
  });
});

describe('active-user key', () => {
  const member = { platform: 'slack', tenantId: 'T1', chatId: 'C1', userId: 'U1' } as const;

  it('is per UTC day, group and member', () => {
    expect(activeUserKey(member, NOW)).toBe('active#2026-11-25#slack#T1#C1#U1');
    expect(activeUserKey(member, Date.UTC(2026, 10, 25, 23, 59, 59, 999))).toBe(activeUserKey(member, NOW));
    expect(activeUserKey(member, Date.UTC(2026, 10, 26))).toBe('active#2026-11-26#slack#T1#C1#U1');
    expect(activeUserKey({ ...member, userId: 'U2' }, NOW)).not.toBe(activeUserKey(member, NOW));
    expect(activeUserKey({ ...member, chatId: 'C2' }, NOW)).not.toBe(activeUserKey(member, NOW));
  });

  it('escapes # in ids, so one member cannot take another member’s key', () => {
    const forged = activeUserKey({ ...member, chatId: 'C1#U1', userId: 'x' }, NOW);
    expect(forged).toBe('active#2026-11-25#slack#T1#C1%23U1#x');
    expect(forged).not.toBe(activeUserKey({ ...member, userId: 'U1#x' }, NOW));
  });
});
