import { MalformedEventError, ReplayError, SignatureError } from '#core/errors';
import {
  computeRobotSign,
  createDingTalkPlatform,
  type DingTalkConfig,
  decryptDingTalkCallback,
} from '#platforms/dingtalk/index';
import type { ChatPlatform, IncomingMessage, ParseResult, RawRequest } from '#platforms/types';
import { computeMsgSignature, deriveAesKey, encryptMessage } from '#platforms/wecom/index';
import {
  buildSignedDingTalkRequest,
  createDingTalkEmulator,
  DINGTALK_EMULATED_BOT_NAME,
  DINGTALK_EMULATED_CALLBACK,
} from '../../../../sandbox/platform-emulator/dingtalk';
import captured from '../../../fixtures/dingtalk/group-at-mention-text.json';
import { CREDENTIALS, emulatorContext, framedPlaintext, NOW, pad32, rawEncrypt, toRaw } from './helpers';

const HOUR = 3_600_000;
const deps = { fetch, now: () => NOW, sleep: async () => {} };
const { appKey, appSecret } = CREDENTIALS.dingtalk;
const BASE: DingTalkConfig = {
  appKey,
  appSecret,
  botName: 'GroupGate',
  callbackCrypto: DINGTALK_EMULATED_CALLBACK,
};

function platform(overrides: Partial<DingTalkConfig> = {}): ChatPlatform {
  return createDingTalkPlatform({ ...BASE, ...overrides }, deps);
}

const ctx = emulatorContext('https://oapi.dingtalk.com');

function signed(body: object | Buffer, options: { timestampMs?: number; contentType?: string } = {}): RawRequest {
  return toRaw(buildSignedDingTalkRequest(body, ctx, options));
}

function expectMessage(result: ParseResult): IncomingMessage {
  if (result.kind !== 'message') throw new Error(`expected a message, got ${JSON.stringify(result)}`);
  return result.message;
}

function withBody(changes: Record<string, unknown>): Record<string, unknown> {
  return { ...captured, ...changes };
}

describe('DingTalk robot callback: captured group @-mention', () => {
  it('normalises the captured shape, removing only the bot mention', () => {
    const message = expectMessage(platform().parse(signed(captured), NOW));
    expect(message).toEqual({
      platform: 'dingtalk',
      tenantId: 'ding9f50b15bccd16741',
      chatId: 'cidFx1Zb9sTQkW3u8mA7yHn0g==',
      chatType: 'group',
      senderId: 'zhangsan0007',
      senderName: '张三',
      eventId: 'msgQ4bW8c2hT0x1nJ5kLrV7yPA==',
      messageId: 'msgQ4bW8c2hT0x1nJ5kLrV7yPA==',
      text: '帮我总结一下 @李四 的周报 👍',
      mentionedBot: true,
      timestamp: 1699999999000,
      replyHandle: {
        platform: 'dingtalk',
        conversationId: 'cidFx1Zb9sTQkW3u8mA7yHn0g==',
        robotCode: 'dingq1w2e3r4t5y6u7i8',
        sessionWebhook: 'https://oapi.dingtalk.com/robot/sendBySession?session=8d5bfa7c0c2e4ae2a8f6f1c0e0b9a3d1',
        sessionWebhookExpiresAt: 1700005400000,
        conversationType: 'group',
        senderStaffId: 'zhangsan0007',
      },
    });
  });

  it('without botName keeps the text whole when other users are mentioned too (the bot mention is not guessable)', () => {
    const message = expectMessage(platform({ botName: undefined }).parse(signed(captured), NOW));
    expect(message.text).toBe('@GroupGate 帮我总结一下 @李四 的周报 👍');
    expect(message.mentionedBot).toBe(true);
  });

  it('without botName removes the single mention when only the bot is in atUsers', () => {
    const body = withBody({ atUsers: [{ dingtalkId: captured.chatbotUserId }], text: { content: '@机器人 你好' } });
    expect(expectMessage(platform({ botName: undefined }).parse(signed(body), NOW)).text).toBe('你好');
  });

  it('accepts lower- and mixed-case header names', () => {
    const request = signed(captured);
    const mixed = {
      ...request,
      headers: {
        Timestamp: request.headers.timestamp!,
        SIGN: request.headers.sign!,
        'Content-Type': 'application/json',
      },
    };
    expect(platform().parse(mixed, NOW).kind).toBe('message');
  });

  it('parses the emulator-built event and reads a direct message as direct', () => {
    const emulator = createDingTalkEmulator();
    const group = emulator.buildMessageEvent({ chatId: 'cid-g', userId: 'u1', text: 'hi there' }, ctx);
    const message = expectMessage(platform({ botName: DINGTALK_EMULATED_BOT_NAME }).parse(toRaw(group), NOW));
    expect(message).toMatchObject({
      chatId: 'cid-g',
      senderId: 'u1',
      text: 'hi there',
      mentionedBot: true,
      chatType: 'group',
    });
    expect(message.eventId).toBe(group.eventId);
    const direct = emulator.buildMessageEvent({ chatId: 'cid-d', userId: 'u2', text: 'ping', direct: true }, ctx);
    expect(expectMessage(platform().parse(toRaw(direct), NOW))).toMatchObject({
      chatType: 'direct',
      mentionedBot: false,
      text: 'ping',
    });
  });
});

describe('DingTalk event-subscription handshake (callback crypto)', () => {
  const keys = {
    token: DINGTALK_EMULATED_CALLBACK.token,
    aesKey: deriveAesKey(DINGTALK_EMULATED_CALLBACK.aesKey, 'k'),
  };

  function sealed(plaintext: string, ownerKey = appKey, timestamp = String(NOW)) {
    const encrypt = encryptMessage(keys.aesKey, plaintext, ownerKey);
    return callbackRequest(encrypt, timestamp);
  }

  function callbackRequest(encrypt: string, timestamp = String(NOW), signature?: string): RawRequest {
    return {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      query: {
        signature: signature ?? computeMsgSignature(keys.token, timestamp, 'n1', encrypt),
        timestamp,
        nonce: 'n1',
      },
      body: Buffer.from(JSON.stringify({ encrypt }), 'utf8'),
    };
  }

  it('answers the emulator check_url with an encrypted "success" the platform can verify', () => {
    const result = platform().parse(toRaw(createDingTalkEmulator().buildHandshake(ctx)), NOW);
    if (result.kind !== 'handshake') throw new Error('expected handshake');
    const answer = JSON.parse(result.response.body) as Record<string, string>;
    expect(answer.msg_signature).toBe(
      computeMsgSignature(keys.token, answer.timeStamp!, answer.nonce!, answer.encrypt!),
    );
    expect(
      decryptDingTalkCallback(
        { signature: answer.msg_signature, timestamp: answer.timeStamp, nonce: answer.nonce, encrypt: answer.encrypt },
        { ...keys, ownerKey: appKey },
        NOW,
        HOUR,
      ),
    ).toBe('success');
  });

  it('ignores other subscribed events with their type as reason', () => {
    expect(platform().parse(sealed('{"EventType":"user_add_org"}'), NOW)).toEqual({
      kind: 'ignored',
      reason: 'event subscription user_add_org is not handled',
    });
  });

  const badCallbacks: [string, () => RawRequest, new (...args: never[]) => Error][] = [
    [
      'a wrong signature',
      () => callbackRequest(encryptMessage(keys.aesKey, '{}', appKey), String(NOW), 'f'.repeat(40)),
      SignatureError,
    ],
    ['a wrong ownerKey', () => sealed('{"EventType":"check_url"}', 'dingother'), SignatureError],
    ['a stale timestamp', () => sealed('{"EventType":"check_url"}', appKey, String(NOW - HOUR - 1)), ReplayError],
    [
      'a truncated ciphertext',
      () => callbackRequest(encryptMessage(keys.aesKey, '{}', appKey).slice(0, 20)),
      MalformedEventError,
    ],
    ['a non-base64 ciphertext', () => callbackRequest('%%%not*base64%%%'), MalformedEventError],
    [
      'bad PKCS#7 padding',
      () =>
        callbackRequest(
          rawEncrypt(
            keys.aesKey,
            Buffer.concat([framedPlaintext('{}', appKey), Buffer.alloc(32 - ((22 + appKey.length) % 32), 0)]),
          ),
        ),
      SignatureError,
    ],
    [
      'a length field larger than the payload',
      () => callbackRequest(rawEncrypt(keys.aesKey, pad32(framedPlaintext('{}', appKey, 5000)))),
      SignatureError,
    ],
    [
      'a ciphertext from another key',
      () => callbackRequest(encryptMessage(deriveAesKey('A'.repeat(43), 'k'), '{}', appKey)),
      SignatureError,
    ],
    ['a non-JSON plaintext', () => sealed('check_url'), MalformedEventError],
  ];
  it.each(badCallbacks)('rejects %s', (_name, build, errorType) => {
    expect(() => platform().parse(build(), NOW)).toThrow(errorType);
  });
});

describe('DingTalk robot callback: bad inputs', () => {
  const body = Buffer.from(JSON.stringify(captured), 'utf8');
  const good = () => signed(captured);

  const rejected: [string, () => RawRequest, new (...args: never[]) => Error][] = [
    [
      'a missing sign header',
      () => ({ ...good(), headers: { timestamp: String(NOW), 'content-type': 'application/json' } }),
      SignatureError,
    ],
    [
      'a missing timestamp header',
      () => ({
        ...good(),
        headers: { sign: computeRobotSign(appSecret, String(NOW)), 'content-type': 'application/json' },
      }),
      SignatureError,
    ],
    [
      'a sign made with another secret',
      () => ({ ...good(), headers: { ...good().headers, sign: computeRobotSign('SECother', String(NOW)) } }),
      SignatureError,
    ],
    [
      'a timestamp changed after signing',
      () => ({ ...good(), headers: { ...good().headers, timestamp: String(NOW + 1) } }),
      SignatureError,
    ],
    ['an empty sign', () => ({ ...good(), headers: { ...good().headers, sign: '' } }), SignatureError],
    ['a stale timestamp (1 h + 1 ms)', () => signed(captured, { timestampMs: NOW - HOUR - 1 }), ReplayError],
    ['a future timestamp (1 h + 1 ms)', () => signed(captured, { timestampMs: NOW + HOUR + 1 }), ReplayError],
    [
      'a timestamp in seconds instead of ms',
      () =>
        toRaw({
          ...buildSignedDingTalkRequest(captured, ctx),
          headers: {
            timestamp: String(NOW / 1000),
            sign: computeRobotSign(appSecret, String(NOW / 1000)),
            'content-type': 'application/json',
          },
        }),
      ReplayError,
    ],
    [
      'a non-numeric signed timestamp',
      () => ({
        ...good(),
        headers: {
          timestamp: '1.7e12',
          sign: computeRobotSign(appSecret, '1.7e12'),
          'content-type': 'application/json',
        },
      }),
      ReplayError,
    ],
    ['a GET request', () => ({ ...good(), method: 'GET' as const }), MalformedEventError],
    ['malformed JSON', () => signed(Buffer.from('{"msgId": "x",', 'utf8')), MalformedEventError],
    ['a JSON array', () => signed(Buffer.from('[1,2]', 'utf8')), MalformedEventError],
    [
      'a form-encoded content type',
      () => signed(body, { contentType: 'application/x-www-form-urlencoded' }),
      MalformedEventError,
    ],
    [
      'a missing content type',
      () => ({ ...good(), headers: { timestamp: good().headers.timestamp!, sign: good().headers.sign! } }),
      MalformedEventError,
    ],
    ['invalid UTF-8 bytes', () => signed(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d])), MalformedEventError],
    ['a missing msgId', () => signed(withBody({ msgId: undefined })), MalformedEventError],
    ['a missing conversationId', () => signed(withBody({ conversationId: '' })), MalformedEventError],
    ['a missing chatbotUserId', () => signed(withBody({ chatbotUserId: undefined })), MalformedEventError],
    ['an unknown conversationType', () => signed(withBody({ conversationType: 3 })), MalformedEventError],
    ['a text message without text.content', () => signed(withBody({ text: {} })), MalformedEventError],
  ];
  it.each(rejected)('rejects %s', (_name, build, errorType) => {
    expect(() => platform().parse(build(), NOW)).toThrow(errorType);
  });

  it.each([
    [
      'picture',
      { msgtype: 'picture', content: { downloadCode: 'x' }, text: undefined },
      'msgtype picture is not a text message',
    ],
    // With DingTalk's recognition text a voice message is the member's text, without it its audio is attached
    // (voice.test.ts); with neither, ignored.
    [
      'audio with neither recognition nor a download code',
      { msgtype: 'audio', content: { recognition: '' }, text: undefined },
      'audio message without recognition text or audio file',
    ],
    ['richText', { msgtype: 'richText' }, 'msgtype richText is not a text message'],
    ['the robot itself', { senderId: captured.chatbotUserId }, 'message sent by the robot itself'],
  ])('ignores %s with its reason and event id', (_name, changes, reason) => {
    expect(platform().parse(signed(withBody(changes)), NOW)).toEqual({
      kind: 'ignored',
      reason,
      eventId: captured.msgId,
    });
  });

  it('marks a message that mentions another user but not the bot as not mentioning it, keeping the mention', () => {
    const other = { dingtalkId: '$:LWCP_v1:$lISi0UsErxYz7Qa1b2C==', staffId: 'lisi0042' };
    const message = expectMessage(
      platform().parse(
        signed(withBody({ atUsers: [other], isInAtList: false, text: { content: '@李四 看一下' } })),
        NOW,
      ),
    );
    expect(message.mentionedBot).toBe(false);
    expect(message.text).toBe('@李四 看一下');
  });

  it('does not take a longer name starting with the bot name for the bot', () => {
    const message = expectMessage(platform().parse(signed(withBody({ text: { content: '@GroupGateway 在吗' } })), NOW));
    expect(message.text).toBe('@GroupGateway 在吗');
  });

  it('keeps Chinese, emoji and inner whitespace byte-exact', () => {
    const text = '请解释：𠀋字、👨‍👩‍👧 家庭 emoji，以及\n  ```ts\nconst a = "中文";\n```';
    const message = expectMessage(platform().parse(signed(withBody({ text: { content: `@GroupGate ${text}` } })), NOW));
    expect(Buffer.from(message.text, 'utf8').equals(Buffer.from(text, 'utf8'))).toBe(true);
  });

  it.each([
    ['an unlisted origin', 'https://evil.example.com/robot/sendBySession?session=x'],
    ['userinfo smuggling', 'https://oapi.dingtalk.com@evil.example.com/robot/sendBySession'],
    ['plain http', 'http://oapi.dingtalk.com/robot/sendBySession?session=x'],
    ['a look-alike host', 'https://oapi.dingtalk.com.evil.example.com/robot/sendBySession'],
    ['an unparseable URL', 'not a url'],
  ])('drops a sessionWebhook on %s, so the reply falls back to the robot API', (_name, sessionWebhook) => {
    const message = expectMessage(platform().parse(signed(withBody({ sessionWebhook })), NOW));
    expect(message.replyHandle).toEqual({
      platform: 'dingtalk',
      conversationId: captured.conversationId,
      robotCode: captured.robotCode,
      conversationType: 'group',
      senderStaffId: captured.senderStaffId,
    });
  });

  it('drops a sessionWebhook without its expiry time', () => {
    const message = expectMessage(platform().parse(signed(withBody({ sessionWebhookExpiredTime: undefined })), NOW));
    expect(message.replyHandle).not.toHaveProperty('sessionWebhook');
  });
});
