import { encodeQueuedEvent, type QueuedEvent, queuedEventSchema } from '#core/queue-message';
import { replyHandleSchema } from '#platforms/manifests';
import { PLATFORM_DESCRIPTORS } from '#platforms/registry';
import { type HttpResponse, PLATFORMS, type PlatformName, type ReplyHandle } from '#platforms/types';
import * as z from '#shared/zod';

/** One handle per platform with every optional field set, and one with only the required ones. */
const HANDLES: { readonly [P in PlatformName]: readonly Extract<ReplyHandle, { platform: P }>[] } = {
  feishu: [{ platform: 'feishu', chatId: 'oc_1', messageId: 'om_1', inThread: true }],
  slack: [
    { platform: 'slack', channel: 'C1', threadTs: '1700000000.000100' },
    { platform: 'slack', channel: 'C1' },
  ],
  dingtalk: [
    {
      platform: 'dingtalk',
      conversationId: 'cid1',
      robotCode: 'ding123',
      sessionWebhook: 'https://oapi.dingtalk.com/robot/sendBySession?session=s',
      sessionWebhookExpiresAt: 1_700_000_600_000,
    },
    { platform: 'dingtalk', conversationId: 'cid1' },
  ],
  wecom: [
    {
      platform: 'wecom',
      chatId: 'wr1',
      responseUrl: 'https://qyapi.weixin.qq.com/cgi-bin/aibot/response?response_code=c',
      responseUrlExpiresAt: 1_700_003_600_000,
    },
    { platform: 'wecom', chatId: 'wr1' },
  ],
};

function queuedEvent(handle: ReplyHandle): QueuedEvent {
  return {
    v: 1,
    conversationKey: `${handle.platform}#T1#chat#U1`,
    text: 'what port? 👋',
    receivedAt: 1_700_000_000_000,
    ingressMs: 4,
    message: {
      platform: handle.platform,
      tenantId: 'T1',
      chatId: 'chat',
      chatType: 'group',
      threadId: 'th1',
      senderId: 'U1',
      senderName: 'Ana',
      eventId: 'Ev1',
      messageId: 'm1',
      text: 'what port? 👋',
      mentionedBot: true,
      timestamp: 1_699_999_999_000,
      replyHandle: handle,
    },
  };
}

describe('platform descriptor table', () => {
  it('has exactly one descriptor per PLATFORMS entry, named like its key', () => {
    expect(Object.keys(PLATFORM_DESCRIPTORS).sort()).toEqual([...PLATFORMS].sort());
    for (const name of PLATFORMS) {
      const descriptor = PLATFORM_DESCRIPTORS[name];
      expect(descriptor.name).toBe(name);
      const platformField = descriptor.replyHandleSchema.shape.platform;
      for (const other of PLATFORMS) expect(z.safeParse(platformField, other).success).toBe(other === name);
      expect(typeof descriptor.create).toBe('function');
      expect(Object.keys(descriptor.credentials.envNames).sort()).toEqual(
        Object.keys(descriptor.credentials.schema.shape).sort(),
      );
    }
  });

  it.each(PLATFORMS.flatMap((p) => HANDLES[p].map((handle) => [p, handle] as const)))(
    'round-trips a queued %s event through the SQS body and the schema (%j)',
    (_platform, handle) => {
      const event = queuedEvent(handle);
      expect(queuedEventSchema.parse(JSON.parse(encodeQueuedEvent(event)))).toEqual(event);
    },
  );

  it('refuses a handle of an unknown platform or missing its platform’s required fields', () => {
    expect(replyHandleSchema.safeParse({ platform: 'telegram', chatId: 'x' }).success).toBe(false);
    expect(replyHandleSchema.safeParse({ platform: 'slack', chatId: 'C1' }).success).toBe(false);
    expect(replyHandleSchema.safeParse({ platform: 'feishu', chatId: 'oc_1', messageId: 'om_1' }).success).toBe(false);
  });

  it('answers a duplicate delivery with each platform’s own rule', () => {
    const ack: HttpResponse = { statusCode: 200, headers: { 'content-type': 'application/json' }, body: '{}' };
    const answers = Object.fromEntries(PLATFORMS.map((p) => [p, PLATFORM_DESCRIPTORS[p].duplicateAck(ack)]));
    expect(answers).toEqual({
      feishu: ack,
      slack: { ...ack, headers: { ...ack.headers, 'x-slack-no-retry': '1' } },
      dingtalk: ack,
      wecom: ack,
    });
  });
});
