import { MalformedEventError, ReplayError, SignatureError } from '#core/errors';
import { feishuSignature } from '#platforms/feishu/crypto';
import { createFeishuPlatform, type FeishuConfig } from '#platforms/feishu/index';
import type { ParseResult, RawRequest } from '#platforms/types';
import {
  buildSignedFeishuRequest,
  createFeishuEmulator,
  encryptFeishu,
  feishuMessageEvent,
  signFeishu,
} from '../../../../sandbox/platform-emulator/feishu';
import fixture from '../../../fixtures/feishu/im-message-receive-group-mention.json';
import { config, credentials, emulatorContext, NOW, toRaw } from './helpers';

const deps = { fetch, now: () => NOW, sleep: async () => {} };
const platform = createFeishuPlatform(config, deps);
const emulator = createFeishuEmulator();
const ctx = emulatorContext();
const input = { chatId: 'oc_group1', userId: 'ou_alice', text: '今天的会议几点？🙂' };

/** Signs arbitrary bytes as Feishu would (so only the part under test is wrong). */
function signedRaw(body: Buffer | string, headers: Record<string, string> = {}, key = config.encryptKey): RawRequest {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return toRaw({
    method: 'POST',
    path: '/webhook/feishu',
    query: {},
    body: bytes,
    eventId: '',
    headers: { ...signFeishu(bytes, key, NOW / 1000, 'nonce123'), ...headers },
  });
}

function encryptedEvent(mutate: (event: ReturnType<typeof feishuMessageEvent>['event']) => unknown): RawRequest {
  const { event } = feishuMessageEvent(input, ctx);
  const changed = mutate(event) ?? event;
  return toRaw(buildSignedFeishuRequest(changed as object, ctx));
}

function expectMessage(result: ParseResult) {
  if (result.kind !== 'message') throw new Error(`expected a message, got ${JSON.stringify(result)}`);
  return result.message;
}

describe('Feishu parse: happy paths through the real verifier', () => {
  it('normalises an emulated group @-mention with Chinese and emoji text', () => {
    const request = emulator.buildMessageEvent(input, ctx);
    const message = expectMessage(platform.parse(toRaw(request), NOW));
    expect(message).toMatchObject({
      platform: 'feishu',
      tenantId: 'tenant-sandbox',
      chatId: 'oc_group1',
      chatType: 'group',
      senderId: 'ou_alice',
      eventId: request.eventId,
      text: '今天的会议几点？🙂',
      mentionedBot: true,
      timestamp: NOW,
    });
    expect(message.replyHandle).toEqual({
      platform: 'feishu',
      chatId: 'oc_group1',
      messageId: message.messageId,
      inThread: false,
    });
  });

  it('maps p2p to direct and a topic thread to threadId + reply_in_thread', () => {
    const direct = expectMessage(
      platform.parse(toRaw(emulator.buildMessageEvent({ ...input, direct: true }, ctx)), NOW),
    );
    expect(direct).toMatchObject({ chatType: 'direct', mentionedBot: false, text: input.text });
    const threaded = expectMessage(
      platform.parse(toRaw(emulator.buildMessageEvent({ ...input, threadId: 'omt_topic' }, ctx)), NOW),
    );
    expect(threaded.threadId).toBe('omt_topic');
    expect(threaded.replyHandle).toMatchObject({ inThread: true });
  });

  it('answers the emulated encrypted, unsigned URL check', () => {
    const request = emulator.buildHandshake(ctx);
    const result = platform.parse(toRaw(request), NOW);
    expect(result.kind === 'handshake' && JSON.parse(result.response.body)).toEqual({ challenge: request.eventId });
  });

  describe('captured docs example (im.message.receive_v1, group @-mention)', () => {
    const docsConfig: FeishuConfig = { ...config, verificationToken: fixture.header.token };
    const fixtureCtx = emulatorContext();

    it.each([true, false])('encrypt=%s: the mention of the bot is stripped', (encrypt) => {
      const bot = createFeishuPlatform({ ...docsConfig, botOpenId: 'ou_84aad35d084aa403a838cf73ee18467' }, deps);
      const message = expectMessage(bot.parse(toRaw(buildSignedFeishuRequest(fixture, fixtureCtx, { encrypt })), NOW));
      expect(message).toMatchObject({
        tenantId: '2ca1d211f64f6438',
        chatId: 'oc_5ce6d572455d361153b7xx51da133945',
        chatType: 'group',
        threadId: 'omt_d4be107c616',
        eventId: '5e3702a84e847582be8db7fb73283c02',
        messageId: 'om_5ce6d572455d361153b7cb51da133945',
        text: 'hello',
        mentionedBot: true,
        timestamp: 1609073151345,
      });
    });

    it('a mention of someone else is kept readable and is not a bot mention', () => {
      const other = createFeishuPlatform(docsConfig, deps);
      const message = expectMessage(other.parse(toRaw(buildSignedFeishuRequest(fixture, fixtureCtx)), NOW));
      expect(message).toMatchObject({ text: '@Tom hello', mentionedBot: false });
    });
  });
});

describe('Feishu parse: bad inputs end in typed errors or ignored reasons', () => {
  const valid = () => toRaw(emulator.buildMessageEvent(input, ctx));
  const withHeaders = (headers: Record<string, string | undefined>): RawRequest => {
    const raw = valid();
    const merged: Record<string, string> = {};
    for (const [k, v] of Object.entries({ ...raw.headers, ...headers })) if (v !== undefined) merged[k] = v;
    return { ...raw, headers: merged };
  };
  const goodBody = valid().body;

  type Case = [string, () => RawRequest, (new (...args: never[]) => Error) | string, number?];
  const cases: Case[] = [
    ['tampered signature', () => withHeaders({ 'x-lark-signature': '0'.repeat(64) }), SignatureError],
    ['signature of another body', () => ({ ...valid(), body: Buffer.from(`${goodBody.toString()} `) }), SignatureError],
    ['signed with the wrong encrypt key', () => signedRaw(goodBody, {}, 'wrong key'), SignatureError],
    ['signature header but no nonce', () => withHeaders({ 'x-lark-request-nonce': undefined }), SignatureError],
    ['signature header but no timestamp', () => withHeaders({ 'x-lark-request-timestamp': undefined }), SignatureError],
    [
      'missing signature on a message event',
      () => withHeaders({ 'x-lark-signature': undefined, 'x-lark-request-timestamp': undefined }),
      SignatureError,
    ],
    ['stale timestamp (5 min + 1 s)', () => valid(), ReplayError, NOW + 301_000],
    ['future timestamp (5 min + 1 s)', () => valid(), ReplayError, NOW - 301_000],
    [
      'non-numeric timestamp, correctly signed',
      () =>
        signedRaw(goodBody, {
          'X-Lark-Request-Timestamp': 'soon',
          'X-Lark-Signature': feishuSignature('soon', 'nonce123', config.encryptKey, goodBody),
        }),
      ReplayError,
    ],
    ['GET request', () => ({ ...valid(), method: 'GET' }), MalformedEventError],
    ['wrong content type', () => signedRaw(goodBody, { 'Content-Type': 'text/plain' }), MalformedEventError],
    ['malformed JSON', () => signedRaw('{"encrypt":'), MalformedEventError],
    ['JSON array body', () => signedRaw('[]'), MalformedEventError],
    ['invalid UTF-8 body', () => signedRaw(Buffer.from([0x7b, 0xc3, 0x28, 0x7d])), MalformedEventError],
    ['encrypt is not a string', () => signedRaw('{"encrypt":42}'), MalformedEventError],
    ['non-base64 ciphertext', () => signedRaw('{"encrypt":"not base64 at all!"}'), MalformedEventError],
    [
      'truncated ciphertext',
      () => signedRaw(JSON.stringify({ encrypt: encryptFeishu('{"a":1}', config.encryptKey).slice(0, 24) })),
      MalformedEventError,
    ],
    [
      'bad padding (encrypted under another key, signed with ours)',
      () => signedRaw(JSON.stringify({ encrypt: encryptFeishu('{"a":1}'.repeat(5), 'other key') })),
      MalformedEventError,
    ],
    [
      'decrypts to non-JSON',
      () => signedRaw(JSON.stringify({ encrypt: encryptFeishu('plain words', config.encryptKey) })),
      MalformedEventError,
    ],
    [
      'wrong verification token',
      () => encryptedEvent((e) => ({ ...e, header: { ...e.header, token: 'x' } })),
      SignatureError,
    ],
    ['schema 2.0 without header', () => encryptedEvent((e) => ({ ...e, header: undefined })), MalformedEventError],
    [
      'missing message_id',
      () =>
        encryptedEvent((e) => {
          const { message_id: _drop, ...message } = e.event.message;
          return { ...e, event: { ...e.event, message } };
        }),
      MalformedEventError,
    ],
    [
      'missing sender',
      () => encryptedEvent((e) => ({ ...e, event: { message: e.event.message } })),
      MalformedEventError,
    ],
    [
      'text content is not JSON',
      () => encryptedEvent((e) => ({ ...e, event: { ...e.event, message: { ...e.event.message, content: 'hi' } } })),
      MalformedEventError,
    ],
    [
      'text content without text',
      () => encryptedEvent((e) => ({ ...e, event: { ...e.event, message: { ...e.event.message, content: '{}' } } })),
      MalformedEventError,
    ],
    [
      'image message',
      () =>
        encryptedEvent((e) => ({
          ...e,
          event: {
            ...e.event,
            message: { ...e.event.message, message_type: 'image', content: '{"image_key":"img_1"}' },
          },
        })),
      'unsupported_message_type:image',
    ],
    [
      // A voice message with its file is a message (files.test.ts); without one there is nothing to transcribe.
      'audio message without a file_key',
      () =>
        encryptedEvent((e) => ({
          ...e,
          event: { ...e.event, message: { ...e.event.message, message_type: 'audio', content: '{"duration":1200}' } },
        })),
      'unsupported_message_type:audio',
    ],
    [
      "the bot's own message",
      () => encryptedEvent((e) => ({ ...e, event: { ...e.event, sender: { ...e.event.sender, sender_type: 'app' } } })),
      'sender_not_user:app',
    ],
    [
      'a message edit event',
      () => encryptedEvent((e) => ({ ...e, header: { ...e.header, event_type: 'im.message.updated_v1' } })),
      'unsupported_event_type:im.message.updated_v1',
    ],
    [
      'a reaction event',
      () => encryptedEvent((e) => ({ ...e, header: { ...e.header, event_type: 'im.message.reaction.created_v1' } })),
      'unsupported_event_type:im.message.reaction.created_v1',
    ],
    [
      'a schema 1.0 event',
      () =>
        toRaw(
          buildSignedFeishuRequest(
            { uuid: 'u', token: credentials.feishu.verificationToken, type: 'event_callback', event: {} },
            ctx,
          ),
        ),
      'unsupported_schema:1.0',
    ],
    [
      'url_verification without challenge',
      () =>
        toRaw(buildSignedFeishuRequest({ type: 'url_verification', token: credentials.feishu.verificationToken }, ctx)),
      MalformedEventError,
    ],
    [
      'unsigned event that is not a URL check',
      () => ({ ...valid(), headers: { 'content-type': 'application/json' } }),
      SignatureError,
    ],
  ];

  it('has at least 25 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(25);
  });

  it.each(cases)('%s', (_name, build, expected, now = NOW) => {
    let outcome: unknown;
    try {
      outcome = platform.parse(build(), now);
    } catch (err) {
      outcome = err;
    }
    if (typeof expected === 'string') {
      expect(outcome).toMatchObject({ kind: 'ignored', reason: expected });
    } else {
      expect(outcome).toBeInstanceOf(expected);
    }
  });

  it('verifies the exact bytes: a Latin-1 round trip of Chinese text breaks the signature', () => {
    const plain = toRaw(buildSignedFeishuRequest(feishuMessageEvent(input, ctx).event, ctx, { encrypt: false }));
    expect(expectMessage(platform.parse(plain, NOW)).text).toBe(input.text);
    const mangled = { ...plain, body: Buffer.from(plain.body.toString('latin1'), 'utf8') };
    expect(() => platform.parse(mangled, NOW)).toThrow(SignatureError);
    const ascii = { ...plain, body: Buffer.from(plain.body.toString('ascii'), 'ascii') };
    expect(() => platform.parse(ascii, NOW)).toThrow(SignatureError);
  });

  it('never throws anything but a typed error on random bytes', () => {
    for (let i = 0; i < 200; i++) {
      const bytes = Buffer.from(Array.from({ length: (i * 7) % 97 }, (_, j) => (i * 31 + j * 17) % 256));
      for (const request of [
        signedRaw(bytes),
        { ...signedRaw(bytes), headers: { 'content-type': 'application/json' } },
      ]) {
        try {
          platform.parse(request, NOW);
        } catch (err) {
          expect([MalformedEventError, SignatureError, ReplayError].some((type) => err instanceof type)).toBe(true);
        }
      }
    }
  });
});
