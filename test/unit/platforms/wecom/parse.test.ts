import { MalformedEventError, PlatformApiError, ReplayError, SignatureError } from '#core/errors';
import type { ChatPlatform, IncomingMessage, ParseResult, RawRequest } from '#platforms/types';
import {
  computeMsgSignature,
  createWeComPlatform,
  deriveAesKey,
  encryptMessage,
  type WeComConfig,
} from '#platforms/wecom/index';
import {
  buildEncryptedWeComRequest,
  createWeComEmulator,
  WECOM_EMULATED_BOT_NAME,
} from '../../../../sandbox/platform-emulator/wecom';
import captured from '../../../fixtures/wecom/group-at-mention-text.json';
import { CREDENTIALS, emulatorContext, framedPlaintext, NOW, pad32, rawEncrypt, toRaw } from '../dingtalk/helpers';

const FIVE_MIN = 300_000;
const { token, encodingAesKey } = CREDENTIALS.wecom;
const key = deriveAesKey(encodingAesKey, 'k');
const deps = { fetch, now: () => NOW, sleep: async () => {} };
const ctx = emulatorContext('https://qyapi.weixin.qq.com');

function platform(overrides: Partial<WeComConfig> = {}): ChatPlatform {
  return createWeComPlatform({ token, encodingAesKey, botName: 'GroupGate', ...overrides }, deps);
}

function sealed(payload: object | string, options: { timestampSeconds?: number; receiveId?: string } = {}): RawRequest {
  return toRaw(buildEncryptedWeComRequest(payload, ctx, options));
}

/** A request whose signature is valid for whatever `encrypt` holds. */
function signedEnvelope(encrypt: string, body?: Buffer, contentType = 'application/json'): RawRequest {
  const timestamp = String(NOW / 1000);
  return {
    method: 'POST',
    headers: { 'content-type': contentType },
    query: { msg_signature: computeMsgSignature(token, timestamp, 'n1', encrypt), timestamp, nonce: 'n1' },
    body: body ?? Buffer.from(JSON.stringify({ encrypt }), 'utf8'),
  };
}

function expectMessage(result: ParseResult): IncomingMessage {
  if (result.kind !== 'message') throw new Error(`expected a message, got ${JSON.stringify(result)}`);
  return result.message;
}

const withPayload = (changes: Record<string, unknown>) => ({ ...captured, ...changes });

describe('WeCom AI bot: captured group @-mention', () => {
  it('normalises the captured shape and acknowledges with an empty 200', () => {
    const result = platform().parse(sealed(captured), NOW);
    expect(result).toEqual({
      kind: 'message',
      ack: { statusCode: 200, headers: { 'content-type': 'text/plain' }, body: '' },
      message: {
        platform: 'wecom',
        tenantId: 'aibjL8cX0n3Qm2R1uVt9Ws4YpZ',
        chatId: 'wrkSFfCgAAqW3iZ9e0rT7pYbC1xN4aQg',
        chatType: 'group',
        senderId: 'ZhangSan',
        eventId: 'CAIQz7yRsgYYq4mE0fyAgAMg4dSzCA==',
        messageId: 'CAIQz7yRsgYYq4mE0fyAgAMg4dSzCA==',
        text: '帮我查一下 @LiSi 的报销进度 🙏',
        mentionedBot: true,
        timestamp: NOW,
        replyHandle: {
          platform: 'wecom',
          chatId: 'wrkSFfCgAAqW3iZ9e0rT7pYbC1xN4aQg',
          responseUrl: captured.response_url,
          responseUrlExpiresAt: NOW + 3_600_000,
        },
      },
    });
  });

  it('without botName removes a lone mention (group messages only reach the bot when it is mentioned)', () => {
    const message = expectMessage(
      platform({ botName: undefined }).parse(sealed(withPayload({ text: { content: '@小助手 你好' } })), NOW),
    );
    expect(message).toMatchObject({ text: '你好', mentionedBot: true });
  });

  it('removes a trailing mention written without a space before it', () => {
    const message = expectMessage(
      platform().parse(sealed(withPayload({ text: { content: '进度如何@GroupGate ' } })), NOW),
    );
    expect(message.text).toBe('进度如何');
  });

  it('reads a single chat as direct, keyed by the sender', () => {
    const single = withPayload({ chattype: 'single', chatid: undefined, text: { content: 'hello' } });
    expect(expectMessage(platform().parse(sealed(single), NOW))).toMatchObject({
      chatType: 'direct',
      chatId: 'ZhangSan',
      mentionedBot: false,
      text: 'hello',
    });
  });

  it('answers the emulator URL check and parses the emulator message', () => {
    const emulator = createWeComEmulator();
    const handshake = platform().parse(toRaw(emulator.buildHandshake(ctx)), NOW);
    expect(handshake.kind).toBe('handshake');
    const event = emulator.buildMessageEvent({ chatId: 'wr-1', userId: 'lisi', text: '天气' }, ctx);
    const message = expectMessage(platform({ botName: WECOM_EMULATED_BOT_NAME }).parse(toRaw(event), NOW));
    expect(message).toMatchObject({
      chatId: 'wr-1',
      senderId: 'lisi',
      text: '天气',
      mentionedBot: true,
      eventId: event.eventId,
    });
  });
});

describe('WeCom AI bot: bad inputs', () => {
  const good = () => sealed(captured);
  const brokenFrame = (plain: Buffer) => signedEnvelope(rawEncrypt(key, plain));

  const rejected: [string, () => RawRequest, new (...args: never[]) => Error][] = [
    ['a missing msg_signature', () => ({ ...good(), query: { ...good().query, msg_signature: '' } }), SignatureError],
    [
      'a wrong msg_signature',
      () => ({ ...good(), query: { ...good().query, msg_signature: '0'.repeat(40) } }),
      SignatureError,
    ],
    [
      'a missing nonce',
      () => ({ ...good(), query: { msg_signature: good().query.msg_signature!, timestamp: good().query.timestamp! } }),
      SignatureError,
    ],
    ['a signature over another ciphertext', () => ({ ...good(), body: sealed({ msgid: 'x' }).body }), SignatureError],
    ['a token mismatch', () => good(), SignatureError],
    [
      'a stale timestamp (5 min + 1 s)',
      () => sealed(captured, { timestampSeconds: (NOW - FIVE_MIN) / 1000 - 1 }),
      ReplayError,
    ],
    [
      'a future timestamp (5 min + 1 s)',
      () => sealed(captured, { timestampSeconds: (NOW + FIVE_MIN) / 1000 + 1 }),
      ReplayError,
    ],
    [
      'a ciphertext from another key',
      () => signedEnvelope(encryptMessage(deriveAesKey('B'.repeat(43), 'k'), '{}', '')),
      SignatureError,
    ],
    [
      'a truncated ciphertext',
      () => signedEnvelope(encryptMessage(key, JSON.stringify(captured), '').slice(0, 40)),
      MalformedEventError,
    ],
    ['a non-base64 ciphertext', () => signedEnvelope('@@not base64@@'), MalformedEventError],
    ['an empty ciphertext', () => signedEnvelope(''), SignatureError],
    [
      'bad PKCS#7 padding',
      () => brokenFrame(Buffer.concat([framedPlaintext('{}', ''), Buffer.alloc(10, 3)])),
      SignatureError,
    ],
    [
      'padding byte larger than 32',
      () => brokenFrame(Buffer.concat([framedPlaintext('{}', ''), Buffer.alloc(10, 33)])),
      SignatureError,
    ],
    [
      'a length field larger than the payload',
      () => brokenFrame(pad32(framedPlaintext('{}', '', 4096))),
      SignatureError,
    ],
    ['a wrong receiveId', () => sealed(captured, { receiveId: 'wwcorp123' }), SignatureError],
    ['malformed outer JSON', () => signedEnvelope('x', Buffer.from('{"encrypt":', 'utf8')), MalformedEventError],
    [
      'an outer JSON without encrypt',
      () => signedEnvelope('x', Buffer.from('{"Encrypt":"x"}', 'utf8')),
      MalformedEventError,
    ],
    ['a wrong content type', () => ({ ...good(), headers: { 'content-type': 'text/plain' } }), MalformedEventError],
    [
      'an XML body without <Encrypt>',
      () => signedEnvelope('x', Buffer.from('<xml><ToUserName>a</ToUserName></xml>'), 'text/xml'),
      MalformedEventError,
    ],
    ['a decrypted payload that is not JSON', () => sealed('msgtype=text'), MalformedEventError],
    ['a corrupted padding byte', () => brokenFrame(pad32(framedPlaintext('', '')).fill(0xff, 20, 21)), SignatureError],
    ['a missing msgid', () => sealed(withPayload({ msgid: undefined })), MalformedEventError],
    ['a missing from.userid', () => sealed(withPayload({ from: {} })), MalformedEventError],
    ['an unknown chattype', () => sealed(withPayload({ chattype: 'channel' })), MalformedEventError],
    ['a group message without chatid', () => sealed(withPayload({ chatid: undefined })), MalformedEventError],
    ['a text message without text.content', () => sealed(withPayload({ text: { body: 'x' } })), MalformedEventError],
    ['an empty body', () => ({ ...good(), body: Buffer.alloc(0) }), MalformedEventError],
  ];
  it.each(rejected)('rejects %s', (name, build, errorType) => {
    const target = name === 'a token mismatch' ? platform({ token: 'other-token' }) : platform();
    expect(() => target.parse(build(), NOW)).toThrow(errorType);
  });

  it('rejects invalid UTF-8 inside a correctly framed message', () => {
    const frame = framedPlaintext('', '');
    const bad = Buffer.concat([frame.subarray(0, 16), Buffer.from([0, 0, 0, 2, 0xc3, 0x28])]);
    expect(() => platform().parse(brokenFrame(pad32(bad)), NOW)).toThrow(MalformedEventError);
  });

  it('rejects a GET URL check with a bad signature', () => {
    const request = toRaw(createWeComEmulator().buildHandshake(ctx));
    expect(() => platform().parse({ ...request, query: { ...request.query, nonce: 'tampered' } }, NOW)).toThrow(
      SignatureError,
    );
  });

  it('rejects when a configured receiveId does not match the AI bot\'s ""', () => {
    expect(() => platform({ receiveId: 'wx5823bf96d3bd56c7' }).parse(sealed(captured), NOW)).toThrow(SignatureError);
  });

  it.each([
    [
      'an image',
      { msgtype: 'image', image: { url: 'https://x' }, text: undefined },
      'msgtype image is not a text message',
    ],
    ['a mixed message', { msgtype: 'mixed' }, 'msgtype mixed is not a text message'],
    [
      'an enter_chat event',
      { msgtype: 'event', event: { eventtype: 'enter_chat' } },
      'msgtype event enter_chat is not a text message',
    ],
    ['the bot itself', { from: { userid: captured.aibotid } }, 'message sent by the bot itself'],
  ])('ignores %s with its reason and event id', (_name, changes, reason) => {
    expect(platform().parse(sealed(withPayload(changes)), NOW)).toEqual({
      kind: 'ignored',
      reason,
      eventId: captured.msgid,
    });
  });

  it('marks a message mentioning another user but not the bot as not mentioning it', () => {
    const message = expectMessage(platform().parse(sealed(withPayload({ text: { content: '@LiSi 你看下' } })), NOW));
    expect(message).toMatchObject({ mentionedBot: false, text: '@LiSi 你看下' });
  });

  it('keeps Chinese, emoji and code byte-exact', () => {
    const text = '𠀋 👨‍👩‍👧 测试\n```py\nprint("你好")\n```  end';
    const message = expectMessage(
      platform().parse(sealed(withPayload({ text: { content: `@GroupGate ${text}` } })), NOW),
    );
    expect(Buffer.from(message.text).equals(Buffer.from(text))).toBe(true);
  });

  it('drops a response_url on an unlisted origin, and send then fails saying why', async () => {
    const evil = withPayload({ response_url: 'https://qyapi.weixin.qq.com.evil.example/cgi-bin/aibot/response?x=1' });
    const message = expectMessage(platform().parse(sealed(evil), NOW));
    expect(message.replyHandle).toEqual({ platform: 'wecom', chatId: captured.chatid });
    const send = platform().send({ handle: message.replyHandle, text: 'x', format: 'markdown', idempotencyKey: 'k' });
    await expect(send).rejects.toThrow(PlatformApiError);
    await expect(send).rejects.toThrow(/no usable response_url/);
  });
});
