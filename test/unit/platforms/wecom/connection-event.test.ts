import { MalformedEventError, PlatformApiError } from '#core/errors';
import type { ChatPlatform, IncomingMessage } from '#platforms/types';
import { createWeComPlatform, type RelayFrame, relayFrameSchema, wecomStreamId } from '#platforms/wecom/index';
import captured from '../../../fixtures/wecom/group-at-mention-text.json';
import { CREDENTIALS, NOW } from '../dingtalk/helpers';

/**
 * WeCom long-connection mode in the adapter: a callback frame parses like the webhook's decrypted callback but
 * answers through the relay on its req_id, and the relay frames carry the whole text on a stream derived from the
 * event id.
 */
const { token, encodingAesKey } = CREDENTIALS.wecom;
const deps = { fetch, now: () => NOW, sleep: async () => {} };

function platform(frames?: RelayFrame[]): ChatPlatform {
  return createWeComPlatform(
    { token, encodingAesKey, botName: 'GroupGate' },
    deps,
    frames ? { relay: { put: async (f) => void frames.push(relayFrameSchema.parse(f)) } } : {},
  );
}

const callback = (body: unknown, reqId: unknown = 'req-abc') => ({
  cmd: 'aibot_msg_callback',
  headers: { req_id: reqId },
  body,
});

function messageOf(result: ReturnType<NonNullable<ChatPlatform['parseConnectionEvent']>>): IncomingMessage {
  if (result.kind !== 'message') throw new Error(`expected a message, got ${result.kind}`);
  return result.message;
}

describe('WeCom parseConnectionEvent', () => {
  it('reads the callback body as the webhook reads the decrypted callback, replying on the req_id', () => {
    const parse = platform().parseConnectionEvent;
    if (!parse) throw new Error('no parseConnectionEvent');
    const message = messageOf(parse(callback(captured), NOW));
    expect(message).toMatchObject({
      platform: 'wecom',
      eventId: captured.msgid,
      chatId: captured.chatid,
      chatType: 'group',
      mentionedBot: true,
    });
    // No response_url on a socket reply, whatever the body carries: the reply goes back over the socket.
    expect(message.replyHandle).toEqual({ platform: 'wecom', chatId: captured.chatid, reqId: 'req-abc' });
  });

  it('ignores events and refuses frames without req_id or body, by a typed error', () => {
    const parse = platform().parseConnectionEvent;
    if (!parse) throw new Error('no parseConnectionEvent');
    const event = {
      msgid: 'e1',
      aibotid: 'aib',
      msgtype: 'event',
      from: { userid: 'u' },
      event: { eventtype: 'enter_chat' },
    };
    expect(parse(callback(event), NOW)).toMatchObject({ kind: 'ignored', eventId: 'e1' });
    expect(() => parse(callback(captured, ''), NOW)).toThrow(MalformedEventError);
    expect(() => parse(callback(captured, 'x'.repeat(257)), NOW)).toThrow(MalformedEventError);
    expect(() => parse({ headers: { req_id: 'r' } }, NOW)).toThrow('Long-connection callback has no body object');
    expect(() => parse('nope', NOW)).toThrow(MalformedEventError);
    expect(() => parse(callback({ ...captured, chattype: 'channel' }), NOW)).toThrow(MalformedEventError);
  });
});

describe('WeCom replies through the relay', () => {
  const handle = { platform: 'wecom' as const, chatId: 'wr-group', reqId: 'req-1' };
  const target = { handle, format: 'markdown' as const, idempotencyKey: 'msg-1' };

  it('sends a one-shot reply as one final frame on the event-derived stream', async () => {
    const frames: RelayFrame[] = [];
    const adapter = platform(frames);
    const idempotent = adapter.idempotentSend;
    expect(typeof idempotent === 'function' && idempotent(handle)).toBe(true);
    // A webhook message's reply (no req_id) goes by response_url, which does not deduplicate.
    expect(
      typeof idempotent === 'function' &&
        idempotent({ platform: 'wecom', chatId: 'wr-group', responseUrl: 'https://qyapi.weixin.qq.com/x' }),
    ).toBe(false);
    const result = await adapter.send({ ...target, text: 'the answer <@all>' });
    expect(result.messageIds).toEqual([wecomStreamId('msg-1')]);
    expect(frames).toEqual([
      {
        v: 1,
        reqId: 'req-1',
        chatId: 'wr-group',
        streamId: wecomStreamId('msg-1'),
        content: 'the answer ＜＠all>',
        finish: true,
        at: NOW,
      },
    ]);
  });

  it('streams the whole text so far, records the surface first, and finishes once', async () => {
    const frames: RelayFrame[] = [];
    const recorded: string[] = [];
    const session = await platform(frames).openReply(target, {
      stream: true,
      onOpened: async (surface) => void recorded.push(surface.id),
    });
    await session.update('Hello');
    await session.update('Hello wor');
    const result = await session.finish('Hello world');
    expect(recorded).toEqual([wecomStreamId('msg-1')]);
    expect(frames.map((f) => [f.content, f.finish])).toEqual([
      ['Hello', false],
      ...frames.slice(1, -1).map((f) => [f.content, false]),
      ['Hello world', true],
    ]);
    expect(result.messageIds).toEqual([wecomStreamId('msg-1')]);
    await expect(session.finish('again')).rejects.toThrow('already settled');
  });

  it('refuses a long-connection reply when no relay is configured, naming the setting', async () => {
    await expect(platform().send({ ...target, text: 'x' })).rejects.toThrow(PlatformApiError);
    await expect(platform().send({ ...target, text: 'x' })).rejects.toThrow('WECOM_RELAY_QUEUE_URL');
  });
});
