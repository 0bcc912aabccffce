import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { ENV } from '#config/env-names';
import { parseSkillsConfig } from '#config/skills-config';
import { eventKey } from '#core/key-part';
import type { QueuedEvent } from '#core/queue-message';
import { SKILL_PROTOCOL_VERSION } from '#core/skills/remote-protocol';
import { renderBarChart } from '#data-analysis/chart';
import { createSlackPlatform } from '#platforms/slack/index';
import type { ChatPlatform } from '#platforms/types';
import { METRIC, metrics } from '#shared/metrics';
import { logger } from '#shared/powertools';
import { SANDBOX_CREDENTIALS } from '../../../sandbox/defaults';
import { startLambdaInvokeStandIn } from '../../../sandbox/local-aws/lambda-invoke';
import type { LocalServer } from '../../../sandbox/local-aws/local-server';
import { captureEmf } from '../../unit/observability/emf';
import { type Rig, recordOf, startRig, uniqueChat } from './harness';

/**
 * A skill's chart through the real worker runtime (dynalite + fauxqs, the Lambda Invoke stand-in, the Slack
 * emulator): the answer's image is posted after its text in the same thread, both message ids are the event's reply,
 * and an upload that fails leaves the text delivered exactly once — logged, counted (`ReplyImageFailures`), and never
 * sent again on redelivery.
 */

const ARN = 'arn:aws:lambda:us-east-1:123456789012:function:chart';
const chart = renderBarChart([3, 5, 2]);
const skills = (chat: string) =>
  parseSkillsConfig(
    JSON.stringify({
      remote: [{ name: 'chart', description: 'Charts', functionArn: ARN, commands: ['/chart'] }],
      groups: { [`slack:${chat}`]: ['chart'] },
    }),
  );

let rig: Rig;
let standIn: LocalServer;

beforeAll(async () => {
  [rig, standIn] = await Promise.all([
    startRig(),
    startLambdaInvokeStandIn({
      handlers: {
        [ARN]: async () => ({
          version: SKILL_PROTOCOL_VERSION,
          action: 'answer',
          reply: '| region | units |\n| a | 3 |\n| b | 5 |\n| c | 2 |',
          images: [{ mediaType: 'image/png', data: Buffer.from(chart).toString('base64'), alt: 'Units by region' }],
        }),
      },
    }),
  ]);
}, 30_000);

afterAll(async () => {
  await Promise.all([rig?.stop(), standIn?.stop()]);
});

afterEach(() => jest.restoreAllMocks());

/** A worker (a Lambda instance) with the chart skill for `chat`, and optionally its own Slack adapter. */
function worker(chat: string, slack?: ChatPlatform) {
  const set: Record<string, string> = {
    [ENV.lambdaEndpointUrl]: standIn.endpoint,
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
  };
  const saved = Object.fromEntries(Object.keys(set).map((k) => [k, process.env[k]]));
  Object.assign(process.env, set);
  try {
    return rig.runtime({ config: { ...rig.config, skills: skills(chat) }, ...(slack ? { platforms: { slack } } : {}) });
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

async function queued(chatId: string, text: string): Promise<QueuedEvent> {
  const captured: QueuedEvent[] = [];
  rig.capture = captured;
  try {
    await rig.say('slack', { chatId, userId: 'alice', text, threadId: '1714550000.000100' });
  } finally {
    rig.capture = undefined;
  }
  const [event] = captured;
  if (!event) throw new Error('the webhook enqueued nothing');
  return event;
}

async function replyIds(event: QueuedEvent): Promise<unknown> {
  const out = await rig.aws.clients.doc.send(
    new GetCommand({
      TableName: rig.aws.tables.events,
      Key: { pk: eventKey('slack', event.message.eventId) },
      ConsistentRead: true,
    }),
  );
  return out.Item?.replyMessageIds;
}

describe('a skill answer with a chart, through the worker', () => {
  it('posts the table, then the chart in the same thread; both ids are the event’s reply', async () => {
    const chat = uniqueChat('chart');
    const event = await queued(chat, '/chart units');
    const result = await worker(chat)(recordOf(event, `${chat}-1`));
    expect(result).toMatchObject({ kind: 'replied', source: 'skill' });
    const delivered = rig.deliveries.filter((d) => d.chatId === chat);
    expect(delivered.map((d) => [d.text.slice(0, 20), d.threadId, d.image?.height])).toEqual([
      ['<@alice> | region | ', '1714550000.000100', undefined],
      ['Units by region', '1714550000.000100', 220],
    ]);
    expect(delivered[1]?.image?.data).toBe(Buffer.from(chart).toString('base64'));
    expect(await replyIds(event)).toEqual(delivered.map((d) => d.messageId));
  });

  it('an upload that keeps failing: the text once, the failure logged and counted, nothing resent', async () => {
    const chat = uniqueChat('chart-fail');
    // The upload host's outage, which the emulator cannot play on demand: every POST to an upload URL answers 500.
    const failingUploads: typeof fetch = async (input, init) =>
      String(input).includes('/upload/v1/') ? new Response('upstream error', { status: 500 }) : fetch(input, init);
    const slack = createSlackPlatform(
      { ...SANDBOX_CREDENTIALS.slack, apiBaseUrl: `${rig.platformUrl}/_emulator/slack` },
      { fetch: failingUploads, now: Date.now, sleep: async () => undefined },
    );
    const warn = jest.spyOn(logger, 'warn');
    // What earlier tests left in this process's metrics goes out before the capture starts.
    metrics.publishStoredMetrics();
    const emf = captureEmf();
    const event = await queued(chat, '/chart units');
    const run = worker(chat, slack);
    try {
      await expect(run(recordOf(event, `${chat}-1`))).resolves.toMatchObject({ kind: 'replied', source: 'skill' });
      // The redelivery SQS would make if the message were not deleted: the reply is already out.
      await expect(run(recordOf(event, `${chat}-1`, 2))).resolves.toEqual({ kind: 'already_replied' });
      metrics.publishStoredMetrics();
      expect(emf.values(METRIC.replyImageFailures)).toEqual([1]);
      expect(emf.values(METRIC.repliesDelivered)).toEqual([1]);
    } finally {
      emf.restore();
    }
    const delivered = rig.deliveries.filter((d) => d.chatId === chat);
    expect(delivered.map((d) => d.text.slice(0, 20))).toEqual(['<@alice> | region | ']);
    expect(await replyIds(event)).toEqual([delivered[0]?.messageId]);
    expect(warn).toHaveBeenCalledWith('reply images not posted', {
      eventId: event.message.eventId,
      platform: 'slack',
      failures: [{ index: 0, reason: 'Gave up after 4 attempts; last status 500' }],
    });
  });
});
