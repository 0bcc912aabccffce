import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { METRIC, metrics } from '#shared/metrics';
import { captureEmf } from '../../unit/observability/emf';
import { type Rig, startRig, uniqueChat } from '../worker/harness';

/**
 * Daily active users and `/cost` through the real webhook and worker over dynalite (the worker rig): the
 * conditional put that counts a member once per group and day, and the ledger rows written by the worker's own
 * `recordInvocation` read back by the `/cost` command.
 */
let rig: Rig;

beforeAll(async () => {
  rig = await startRig();
}, 30_000);

afterAll(async () => {
  await rig?.stop();
});

afterEach(() => {
  rig.clockOffsetMs = 0;
});

async function settled(): Promise<void> {
  await rig.aws.poller?.idle({ timeoutMs: 15_000 });
}

async function scan(table: string, chatId: string): Promise<Record<string, unknown>[]> {
  const out = await rig.aws.clients.doc.send(new ScanCommand({ TableName: table }));
  return (out.Items ?? []).filter((item) => JSON.stringify(item).includes(chatId));
}

/** The ActiveUsers values the worker recorded since the last flush (the rig's handler has no flush middleware). */
function flushActiveUsers(): number[] {
  const emf = captureEmf();
  try {
    metrics.publishStoredMetrics();
    return emf.values(METRIC.activeUsers);
  } finally {
    emf.restore();
  }
}

describe('daily active users', () => {
  it('counts a member once per group per day, another member again, and the same member again the next day', async () => {
    const chatId = uniqueChat('dau');
    flushActiveUsers();
    const say = async (userId: string, text: string, replies: number) => {
      await rig.say('slack', { chatId, userId, text: `${text} ${chatId}` });
      await rig.waitFor(replies, (d) => d.chatId === chatId);
      await settled();
    };
    const activeItems = async () =>
      (await scan(rig.aws.tables.events, chatId)).filter((i) => String(i.pk).startsWith('active#'));
    const day = () => new Date(rig.now()).toISOString().slice(0, 10);

    await say('alice', 'first question', 1);
    await say('alice', 'second question', 2);
    expect(flushActiveUsers()).toEqual([1]);
    const [row] = await scan(rig.aws.tables.ledger, chatId);
    const group = `slack#${String(row?.tenantId)}#${chatId}`;
    const today = day();
    expect((await activeItems()).map((i) => i.pk)).toEqual([`active#${today}#${group}#alice`]);

    await say('bob', 'my question', 3);
    expect(flushActiveUsers()).toEqual([1]);
    expect((await activeItems()).map((i) => i.pk).sort()).toEqual([
      `active#${today}#${group}#alice`,
      `active#${today}#${group}#bob`,
    ]);

    rig.clockOffsetMs = 86_400_000;
    await say('alice', 'next day', 4);
    expect(flushActiveUsers()).toEqual([1]);
    const items = await activeItems();
    expect(items.map((i) => i.pk).sort()).toEqual([
      `active#${today}#${group}#alice`,
      `active#${today}#${group}#bob`,
      `active#${day()}#${group}#alice`,
    ]);
    // Kept two days past the worker's clock when it was written, then left to DynamoDB TTL.
    for (const item of items) expect(item.expiresAt).toBeGreaterThan(Date.now() / 1000 + 86_400);
  }, 45_000);
});

describe('/cost', () => {
  it('tells a member their own and their group’s invocations and USD this month from the ledger, without the model', async () => {
    const chatId = uniqueChat('cost');
    const ask = async (userId: string, text: string, replies: number) => {
      await rig.say('slack', { chatId, userId, text });
      const delivered = await rig.waitFor(replies, (d) => d.chatId === chatId);
      await settled();
      return delivered.at(-1);
    };
    await ask('alice', `How do I reset my VPN ${chatId}?`, 1);
    await ask('alice', 'And on a phone?', 2);
    await ask('bob', `Where is the canteen ${chatId}?`, 3);
    // Last month's row (written by the real worker with its clock a month back) is not this month's usage.
    rig.clockOffsetMs = -31 * 86_400_000;
    await ask('alice', `Old question ${chatId}?`, 4);
    rig.clockOffsetMs = 0;

    const rows = await scan(rig.aws.tables.ledger, chatId);
    expect(rows).toHaveLength(4);
    const month = new Date(rig.now()).toISOString().slice(0, 7);
    const thisMonth = rows.filter((r) => String(r.at).startsWith(month));
    expect(thisMonth).toHaveLength(3);
    const usd = (list: Record<string, unknown>[]) =>
      `$${(list.reduce((n, r) => n + Number(r.totalNanoUsd), 0) / 1e9).toFixed(4)}`;
    const alice = thisMonth.filter((r) => r.userId === 'alice');

    const modelCalls = rig.prompts.length;
    const reply = await ask('alice', '/cost', 5);
    expect(rig.prompts.length).toBe(modelCalls);
    expect(reply?.text).toContain(`Usage in ${month}`);
    expect(reply?.text).toContain(`You: 2 次 invocations, ${usd(alice)}`);
    expect(reply?.text).toContain(`This group: 3 次 invocations, ${usd(thisMonth)}`);
    expect(Number(alice[0]?.totalNanoUsd)).toBeGreaterThan(0);

    // Bob's view counts the /cost call just made (its own ledger row), and his one question.
    const bobReply = await ask('bob', '#费用', 6);
    expect(bobReply?.text).toContain('You: 1 次 invocations');
    expect(bobReply?.text).toContain('This group: 4 次 invocations');
  }, 60_000);
});
