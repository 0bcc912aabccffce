import { MalformedEventError } from '#core/errors';
import type { ChatPlatform } from '#platforms/types';
import { createWeComPlatform } from '#platforms/wecom/index';
import { CREDENTIALS, NOW } from '../dingtalk/helpers';

/**
 * A WeCom AI-bot voice message (1:1 chats only, per the 接收消息 page) arrives as WeCom's own transcript in
 * `voice.content`, with no audio file: that text is the member's question. Read here through the long-connection
 * callback, which carries the same body as the webhook's decrypted callback.
 */
const { token, encodingAesKey } = CREDENTIALS.wecom;
const platform: ChatPlatform = createWeComPlatform(
  { token, encodingAesKey },
  { fetch, now: () => NOW, sleep: async () => {} },
);
const parse = (body: object) => {
  if (!platform.parseConnectionEvent) throw new Error('no parseConnectionEvent');
  return platform.parseConnectionEvent({ cmd: 'aibot_msg_callback', headers: { req_id: 'req-1' }, body }, NOW);
};
const voice = (extra: object) => ({
  msgid: 'voice-msg-1',
  aibotid: 'aibSandbox01',
  chattype: 'single',
  from: { userid: 'ZhangSan' },
  msgtype: 'voice',
  ...extra,
});

describe('WeCom voice messages', () => {
  it('take the platform transcript as the member text', () => {
    const result = parse(voice({ voice: { content: '帮我总结一下今天的会议' } }));
    if (result.kind !== 'message') throw new Error(`expected a message, got ${result.kind}`);
    expect(result.message).toMatchObject({ chatType: 'direct', chatId: 'ZhangSan', text: '帮我总结一下今天的会议' });
  });

  it('refuse a voice message without its transcript by a typed error', () => {
    expect(() => parse(voice({}))).toThrow(new MalformedEventError('Voice message has no voice.content'));
    expect(() => parse(voice({ voice: { content: 3 } }))).toThrow(MalformedEventError);
  });
});
