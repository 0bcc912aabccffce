import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { eventKey } from '#core/key-part';
import { PLATFORMS, type PlatformName } from '#platforms/types';
import { completion, type Rig, startRig, uniqueChat } from './harness';

/**
 * Streamed replies end to end: webhook → queue → worker → streamed model → each platform's streaming API in its
 * emulator. One surface per event, finished with the whole answer — also when the worker dies between two updates
 * and SQS redelivers, and when a blocked term completes late in the answer.
 */
let rig: Rig;

beforeAll(async () => {
  rig = await startRig({
    maxReceiveCount: 6,
    streaming: true,
    lexicon: JSON.stringify([{ term: 'forbiddenword', level: 3, category: 'test' }]),
  });
}, 30_000);

afterAll(async () => {
  await rig?.stop();
});

afterEach(() => {
  rig.checkpoint = undefined;
  rig.model = (messages) => completion(`answer to: ${messages.at(-1)?.content ?? ''}`);
});

const LONG_ANSWER =
  'Deploys run on Fridays at 14:00 UTC. Announce the deploy in the release channel, open the runbook, ' +
  'watch the error dashboard for ten minutes afterwards and roll back at once if the error rate doubles.';

async function eventItem(platform: PlatformName, eventId: string) {
  const out = await rig.aws.clients.doc.send(
    new GetCommand({ TableName: rig.aws.tables.events, Key: { pk: eventKey(platform, eventId) } }),
  );
  return out.Item;
}

async function settled(platform: PlatformName, eventId: string, chatId: string) {
  await rig.waitForReplied(platform, eventId, 20_000);
  // WeCom shows the final snapshot when it next polls; the others when the finish call returns.
  for (let i = 0; i < 60; i++) {
    const mine = rig.deliveries.filter((d) => d.chatId === chatId);
    if (mine.length > 0 && mine.every((d) => d.stream !== 'streaming')) return mine;
    await new Promise((r) => setTimeout(r, 100));
  }
  return rig.deliveries.filter((d) => d.chatId === chatId);
}

describe.each(PLATFORMS)('%s streams a reply', (platform) => {
  it('into one surface that ends finished with the whole answer, its surface recorded on the event', async () => {
    rig.model = () => completion(LONG_ANSWER);
    const chatId = uniqueChat(`stream-${platform}`);
    // A question of its own, so no FAQ cache entry answers it at once.
    const eventId = await rig.say(platform, { chatId, userId: 'erin', text: `when do we deploy? (${chatId})` });
    const mine = await settled(platform, eventId, chatId);
    expect(mine).toHaveLength(1);
    expect(mine[0]?.stream).toBe('finished');
    expect(mine[0]?.text).toContain('roll back at once if the error rate doubles.');
    // WeCom polls about once a second; this answer is complete before its second poll, so it shows once.
    if (platform !== 'wecom') expect(mine[0]?.updates ?? 0).toBeGreaterThan(0);
    const item = await eventItem(platform, eventId);
    expect(item?.status).toBe('replied');
    expect(typeof item?.surfaceId).toBe('string');
    // Settled surfaces leave the sweeper's index.
    expect(item?.openSurface).toBeUndefined();
  }, 30_000);

  it('survives a worker crash between two updates: the redelivery finishes the same surface', async () => {
    rig.model = () => completion(LONG_ANSWER);
    const chatId = uniqueChat(`stream-crash-${platform}`);
    let crashes = 0;
    rig.checkpoint = (at, event) => {
      if (at === 'streaming' && event.message.chatId === chatId && crashes === 0) {
        crashes++;
        throw new Error('injected crash mid-stream');
      }
    };
    // A question of its own, so no FAQ cache entry answers it at once.
    const eventId = await rig.say(platform, { chatId, userId: 'erin', text: `when do we deploy? (${chatId})` });
    const mine = await settled(platform, eventId, chatId);
    await rig.aws.poller?.idle({ timeoutMs: 15_000 });
    await new Promise((r) => setTimeout(r, 2_000));
    expect(crashes).toBe(1);
    expect(rig.deliveries.filter((d) => d.chatId === chatId)).toHaveLength(1);
    expect(mine[0]?.stream).toBe('finished');
    expect(mine[0]?.text).toContain('roll back at once if the error rate doubles.');
    expect((await eventItem(platform, eventId))?.status).toBe('replied');
  }, 40_000);

  it('a short answer shown in fewer than two updates passes the streaming step too: its crash is resumed', async () => {
    rig.model = () => completion('Fridays, after the freeze.');
    const chatId = uniqueChat(`stream-short-crash-${platform}`);
    let crashes = 0;
    rig.checkpoint = (at, event) => {
      if (at === 'streaming' && event.message.chatId === chatId && crashes === 0) {
        crashes++;
        throw new Error('injected crash before the final write');
      }
    };
    const eventId = await rig.say(platform, { chatId, userId: 'erin', text: `which day? (${chatId})` });
    const mine = await settled(platform, eventId, chatId);
    await rig.aws.poller?.idle({ timeoutMs: 15_000 });
    await new Promise((r) => setTimeout(r, 2_000));
    expect(crashes).toBe(1);
    expect(rig.deliveries.filter((d) => d.chatId === chatId)).toHaveLength(1);
    expect(mine[0]?.stream).toBe('finished');
    expect(mine[0]?.text).toContain('Fridays, after the freeze.');
  }, 40_000);
});

it('a blocked term that completes late is never shown, and the reply becomes the refusal', async () => {
  rig.model = () => completion(`${LONG_ANSWER} Finally, the forbiddenword.`);
  const chatId = uniqueChat('stream-blocked');
  const eventId = await rig.say('feishu', { chatId, userId: 'erin', text: `tell me everything (${chatId})` });
  const mine = await settled('feishu', eventId, chatId);
  expect(mine).toHaveLength(1);
  expect(mine[0]?.text).not.toContain('forbiddenword');
  expect(mine[0]?.text).not.toContain('Deploys run on Fridays');
});
