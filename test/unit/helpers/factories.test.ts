import { queuedEventSchema } from '#core/queue-message';
import { PLATFORMS } from '#platforms/types';
import {
  chatApiConfig,
  fakeModel,
  fakePlatform,
  pipelineConfig,
  queuedEvent,
  sqsRecordOf,
  workerConfig,
} from '../../helpers/factories';

/** The shared builders build what the code under test accepts, so a test that uses them fails only for its own reason. */
const REQUEST = { messages: [{ role: 'user' as const, content: 'hi' }], maxTokens: 8, temperature: 0.3 };

describe('queuedEvent + sqsRecordOf', () => {
  it.each(PLATFORMS)('builds a %s event the worker parses back from the record body', (platform) => {
    const event = queuedEvent(platform);
    const record = sqsRecordOf(event);
    expect(queuedEventSchema.parse(JSON.parse(record.body))).toEqual(event);
    expect(event.message.replyHandle.platform).toBe(platform);
    expect(record.attributes.MessageGroupId).toBe(event.conversationKey);
    expect(record.attributes.MessageDeduplicationId).toContain(event.message.eventId);
  });

  it('derives the conversation key and reply handle from overridden message fields', () => {
    const event = queuedEvent('slack', { text: 'q', message: { chatId: 'C9', threadId: '9.9' } });
    expect(event.conversationKey).toBe('slack#T1#C9#U1');
    expect(event.message.replyHandle).toEqual({ platform: 'slack', channel: 'C9', threadTs: '9.9' });
    expect(event.message.text).toBe('q');
  });
});

describe('fakeModel', () => {
  it('runs queued steps in order, then its responder, recording every call', async () => {
    const model = fakeModel({ id: 'primary' }).next('first', new Error('down'));
    await expect(model.invoke(REQUEST, { deadline: 1 })).resolves.toMatchObject({
      content: 'first',
      modelId: 'primary',
    });
    await expect(model.invoke(REQUEST, { deadline: 1 })).rejects.toThrow('down');
    await expect(model.invokeStream(REQUEST, { deadline: 1 })).resolves.toMatchObject({ content: 'ok' });
    expect(model.calls.map((c) => c.stream)).toEqual([false, false, true]);
  });
});

describe('fakePlatform', () => {
  it('records each send and fails the scripted ones', async () => {
    const platform = fakePlatform('feishu').failNext(new Error('429'));
    const reply = {
      handle: queuedEvent('feishu').message.replyHandle,
      text: 'a',
      format: 'text' as const,
      idempotencyKey: 'k',
    };
    await expect(platform.send(reply)).rejects.toThrow('429');
    await expect(platform.send(reply)).resolves.toEqual({ messageIds: ['feishu-msg-2'] });
    expect(platform.sent).toHaveLength(2);
  });
});

describe('configs', () => {
  it('load from the test tables with env and object overrides', () => {
    expect(workerConfig({}, { claimLeaseMs: 1_500 })).toMatchObject({
      claimLeaseMs: 1_500,
      tables: { events: 'events' },
    });
    expect(chatApiConfig({ CHAT_MODEL_TIMEOUT_MS: '20000' }).modelTimeoutMs).toBe(20_000);
    expect(pipelineConfig()).not.toHaveProperty('limits');
  });
});
