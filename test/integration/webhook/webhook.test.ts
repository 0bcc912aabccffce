import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import type { IngestDeps } from '#core/ingest';
import { eventKey } from '#core/key-part';
import { queuedEventSchema } from '#core/queue-message';
import { createWebhookHandler } from '#handlers/webhook';
import { PLATFORMS, type PlatformName } from '#platforms/types';
import type { LocalAws } from '../../../sandbox/local-aws/index';
import type { EmulatedRequest } from '../../../sandbox/platform-emulator/types';
import { proxyEventOf, testEmulatorContext, withBody, withHeader } from '../../helpers/emulated';
import { EMULATORS, startWebhookRig, type WebhookRig } from './webhook-rig';

let rig: WebhookRig;
let aws: LocalAws;
let deps: IngestDeps;
let handle: WebhookRig['handle'];
const { ctx } = testEmulatorContext();

beforeAll(async () => {
  rig = await startWebhookRig('webhook-it');
  ({ aws, deps, handle } = rig);
}, 30_000);

afterAll(async () => {
  await rig?.aws.stop();
});

beforeEach(async () => {
  await rig.purgeQueue();
});

const drainQueue = () => rig.drainQueue();

async function queueDepth(): Promise<number> {
  const res = await aws.clients.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: aws.queues.queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return (
    Number(res.Attributes?.ApproximateNumberOfMessages ?? 0) +
    Number(res.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0)
  );
}

function messageEvent(platform: PlatformName, overrides: { eventId?: string; text?: string; userId?: string } = {}) {
  return EMULATORS[platform].buildMessageEvent(
    {
      chatId: `chat-${platform}`,
      userId: overrides.userId ?? 'alice',
      text: overrides.text ?? '你好，今天的值班是谁？🙂',
      ...(overrides.eventId ? { eventId: overrides.eventId } : {}),
    },
    ctx,
  );
}

describe.each(PLATFORMS)('%s webhook', (platform) => {
  it('lands a validly signed @-mention exactly once, grouped by the member’s conversation key', async () => {
    const request = messageEvent(platform);
    const res = await handle(proxyEventOf(request));
    expect(res.statusCode).toBe(200);
    const messages = await drainQueue();
    expect(messages).toHaveLength(1);
    const queued = queuedEventSchema.parse(JSON.parse(messages[0]?.body ?? ''));
    expect(queued.message.platform).toBe(platform);
    expect(queued.message.eventId).toBe(request.eventId);
    expect(queued.text).toContain('你好，今天的值班是谁？🙂');
    expect(queued.message.mentionedBot).toBe(true);
    expect(messages[0]?.groupId).toBe(queued.conversationKey);
    expect(queued.conversationKey).toContain(queued.message.senderId);
    expect(messages[0]?.dedupId).toBe(`${platform}#${request.eventId}`);
  });

  it('enqueues five concurrent deliveries of one event once', async () => {
    const request = messageEvent(platform);
    const results = await Promise.all(Array.from({ length: 5 }, () => handle(proxyEventOf(request))));
    expect(results.map((r) => r.statusCode)).toEqual([200, 200, 200, 200, 200]);
    expect(await drainQueue()).toHaveLength(1);
  });

  it('answers a later re-delivery 200 without a second enqueue', async () => {
    const first = messageEvent(platform);
    expect((await handle(proxyEventOf(first))).statusCode).toBe(200);
    const again = messageEvent(platform, { eventId: first.eventId });
    const res = await handle(proxyEventOf(again));
    expect(res.statusCode).toBe(200);
    if (platform === 'slack') expect(res.headers?.['x-slack-no-retry']).toBe('1');
    expect(await drainQueue()).toHaveLength(1);
  });

  it('refuses a tampered body with 401 and enqueues nothing', async () => {
    const request = messageEvent(platform);
    const tampered = tamper(request);
    const res = await handle(proxyEventOf(tampered));
    expect(res.statusCode).toBe(401);
    expect(JSON.parse(res.body).error.code).toMatch(/invalid_signature|stale_request/);
    expect(await queueDepth()).toBe(0);
  });

  it('refuses a request signed too long ago with 401 and enqueues nothing', async () => {
    const { ctx: oldCtx } = testEmulatorContext(undefined, () => Date.now() - 2 * 3600_000);
    const stale = EMULATORS[platform].buildMessageEvent({ chatId: 'c', userId: 'u', text: 'hi' }, oldCtx);
    const res = await handle(proxyEventOf(stale));
    expect(res.statusCode).toBe(401);
    expect(JSON.parse(res.body).error.code).toBe('stale_request');
    expect(await queueDepth()).toBe(0);
  });

  it('answers 413 to an oversized body and enqueues nothing', async () => {
    const request = withBody(messageEvent(platform), Buffer.alloc(deps.maxBodyBytes + 1, 'a'));
    const res = await handle(proxyEventOf(request));
    expect(res.statusCode).toBe(413);
    expect(JSON.parse(res.body).error.code).toBe('payload_too_large');
    expect(await queueDepth()).toBe(0);
  });

  it('answers a missing signature with 4xx and enqueues nothing', async () => {
    const request = messageEvent(platform);
    const stripped = stripSignature(platform, request);
    const res = await handle(proxyEventOf(stripped));
    expect(res.statusCode).toBeGreaterThanOrEqual(400);
    expect(res.statusCode).toBeLessThan(500);
    expect(await queueDepth()).toBe(0);
  });
});

describe('routing and failure handling', () => {
  it('answers 404 for an unknown platform', async () => {
    const request = { ...messageEvent('slack'), path: '/webhook/telegram' };
    const res = await handle(proxyEventOf(request));
    expect(res.statusCode).toBe(404);
    expect(JSON.parse(res.body).error.code).toBe('not_found');
  });

  it('answers 404 for a platform that is not enabled', async () => {
    const onlySlack = createWebhookHandler(async () => ({
      ...deps,
      platform: async (name) => (name === 'slack' ? deps.platform(name) : undefined),
    }));
    const res = await onlySlack(proxyEventOf(messageEvent('feishu')));
    expect(res.statusCode).toBe(404);
    expect(await queueDepth()).toBe(0);
  });

  it('answers 404 for prototype-named platforms instead of crashing', async () => {
    const res = await handle(proxyEventOf({ ...messageEvent('slack'), path: '/webhook/__proto__' }));
    expect(res.statusCode).toBe(404);
  });

  it('releases the reservation when the enqueue fails, so the platform’s retry is enqueued once', async () => {
    let failNext = true;
    const flaky = createWebhookHandler(async () => ({
      ...deps,
      enqueue: async (event, ids) => {
        if (failNext) {
          failNext = false;
          throw new Error('SQS unavailable');
        }
        await deps.enqueue(event, ids);
      },
    }));
    const request = messageEvent('feishu');
    const first = await flaky(proxyEventOf(request));
    expect(first.statusCode).toBe(500);
    expect(JSON.parse(first.body).error.code).toBe('internal_error');
    expect(await queueDepth()).toBe(0);
    const retry = await flaky(proxyEventOf(messageEvent('feishu', { eventId: request.eventId })));
    expect(retry.statusCode).toBe(200);
    const messages = await drainQueue();
    expect(messages).toHaveLength(1);
  });

  it('re-sends (deduplicated by SQS) when a crash left the reservation in "enqueuing"', async () => {
    const request = messageEvent('slack');
    await deps.events.reserve(eventKey('slack', request.eventId), Date.now());
    const res = await handle(proxyEventOf(request));
    expect(res.statusCode).toBe(200);
    expect(await drainQueue()).toHaveLength(1);
  });

  it('ignores a group message that does not mention the bot, with 200 and nothing enqueued', async () => {
    const request = EMULATORS.slack.buildMessageEvent(
      { chatId: 'c1', userId: 'bob', text: 'just chatting', mentionBot: false },
      ctx,
    );
    const res = await handle(proxyEventOf(request));
    expect(res.statusCode).toBe(200);
    expect(await queueDepth()).toBe(0);
  });

  // DingTalk robots in HTTP mode have no URL check (only event subscriptions do, which GroupGate does not use).
  it.each(['feishu', 'slack', 'wecom'] as const)(
    'answers the %s URL-verification handshake directly',
    async (platform) => {
      const res = await handle(proxyEventOf(EMULATORS[platform].buildHandshake(ctx)));
      expect(res.statusCode).toBe(200);
      expect(res.body.length).toBeGreaterThan(0);
      expect(await queueDepth()).toBe(0);
    },
  );
});

/**
 * Changes one byte of what is signed so only the signature (not the parser) can notice. DingTalk signs only the
 * timestamp, so there the signature itself is altered (its body is protected by msgId dedup and the reply-URL
 * allowlist instead).
 */
function tamper(request: EmulatedRequest): EmulatedRequest {
  if (request.headers.sign) {
    const sign = request.headers.sign;
    return withHeader(request, 'sign', `${sign[0] === 'A' ? 'B' : 'A'}${sign.slice(1)}`);
  }
  const body = Buffer.from(request.body);
  const text = body.toString('utf8');
  // Flip a character inside the text content or the ciphertext, keeping the JSON valid.
  const i =
    text.search(/[A-Za-z0-9]"\s*}?\s*$/) > 0 ? text.search(/[A-Za-z0-9]"\s*}?\s*$/) : Math.floor(body.length / 2);
  const original = body[i] ?? 0x41;
  body[i] = original === 0x41 ? 0x42 : 0x41;
  return withBody(request, body);
}

function stripSignature(platform: PlatformName, request: EmulatedRequest): EmulatedRequest {
  switch (platform) {
    case 'feishu':
      return withHeader(request, 'X-Lark-Signature', undefined);
    case 'slack':
      return withHeader(request, 'X-Slack-Signature', undefined);
    case 'dingtalk':
      return withHeader(request, 'sign', undefined);
    case 'wecom': {
      const { msg_signature: _drop, ...query } = request.query;
      return { ...request, query };
    }
  }
}
