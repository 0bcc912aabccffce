import { MalformedEventError, ReplayError, SignatureError } from '#core/errors';
import { createSlackPlatform } from '#platforms/slack/index';
import { slackSignature } from '#platforms/slack/signature';
import type { ParseResult, RawRequest } from '#platforms/types';
import {
  buildSignedSlackRequest,
  createSlackEmulator,
  signSlack,
  slackMessagePayload,
} from '../../../../sandbox/platform-emulator/slack';
import fixture from '../../../fixtures/slack/app-mention.json';
import { config, emulatorContext, NOW, toRaw } from './helpers';

const deps = { fetch, now: () => NOW, sleep: async () => {} };
const platform = createSlackPlatform(config, deps);
const emulator = createSlackEmulator();
const ctx = emulatorContext();
const input = { chatId: 'C0GROUP', userId: 'U0ALICE', text: '今天的会议几点？🙂 a<b & c>d' };

function expectMessage(result: ParseResult) {
  if (result.kind !== 'message') throw new Error(`expected a message, got ${JSON.stringify(result)}`);
  return result.message;
}

function signedRaw(body: Buffer | string, headers: Record<string, string> = {}, secret = config.signingSecret) {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return toRaw({
    method: 'POST',
    path: '/webhook/slack',
    query: {},
    eventId: '',
    body: bytes,
    headers: { ...signSlack(bytes, secret, NOW / 1000), ...headers },
  });
}

type Payload = ReturnType<typeof slackMessagePayload>;
function signedPayload(mutate: (p: Payload) => unknown, base = input): RawRequest {
  const payload = slackMessagePayload(base, ctx);
  return toRaw(buildSignedSlackRequest((mutate(payload) ?? payload) as object, ctx));
}
const withEvent = (extra: Record<string, unknown>) => (p: Payload) => ({ ...p, event: { ...p.event, ...extra } });

describe('Slack parse: happy paths through the real verifier', () => {
  it('normalises an emulated app_mention with Chinese, emoji and escaped characters', () => {
    const request = emulator.buildMessageEvent(input, ctx);
    const message = expectMessage(platform.parse(toRaw(request), NOW));
    expect(message).toMatchObject({
      platform: 'slack',
      tenantId: 'T0SANDBOX',
      chatId: 'C0GROUP',
      chatType: 'group',
      senderId: 'U0ALICE',
      eventId: request.eventId,
      text: input.text,
      mentionedBot: true,
    });
    expect(message.timestamp).toBe(NOW);
    expect(message.replyHandle).toEqual({
      platform: 'slack',
      channel: 'C0GROUP',
      threadTs: message.messageId,
      messageTs: message.messageId,
      teamId: 'T0SANDBOX',
      userId: 'U0ALICE',
      direct: false,
    });
  });

  it('takes thread_ts as threadId and reply thread', () => {
    const message = expectMessage(
      platform.parse(toRaw(emulator.buildMessageEvent({ ...input, threadId: '1714550000.000100' }, ctx)), NOW),
    );
    expect(message.threadId).toBe('1714550000.000100');
    expect(message.replyHandle).toMatchObject({ threadTs: '1714550000.000100' });
  });

  it('maps channel_type im to direct and answers a DM inline', () => {
    const message = expectMessage(
      platform.parse(toRaw(emulator.buildMessageEvent({ ...input, direct: true }, ctx)), NOW),
    );
    expect(message).toMatchObject({ chatType: 'direct', mentionedBot: false });
    expect(message.replyHandle).toEqual({
      platform: 'slack',
      channel: 'C0GROUP',
      threadTs: undefined,
      messageTs: message.messageId,
      teamId: 'T0SANDBOX',
      userId: 'U0ALICE',
      direct: true,
    });
  });

  it('passes a channel message without a mention on with mentionedBot false', () => {
    const message = expectMessage(
      platform.parse(toRaw(emulator.buildMessageEvent({ ...input, mentionBot: false }, ctx)), NOW),
    );
    expect(message).toMatchObject({ chatType: 'group', mentionedBot: false, text: input.text });
  });

  it('answers the signed url_verification handshake', () => {
    const request = emulator.buildHandshake(ctx);
    const result = platform.parse(toRaw(request), NOW);
    expect(result.kind === 'handshake' && JSON.parse(result.response.body)).toEqual({ challenge: request.eventId });
  });

  it('acts on the app_mention, not the duplicate message event of the same message', () => {
    const mention = platform.parse(
      signedPayload((p) => p),
      NOW,
    );
    const duplicate = platform.parse(
      signedPayload(withEvent({ type: 'message', channel_type: 'channel', text: `<@U0BOT> hi` })),
      NOW,
    );
    expect(mention.kind).toBe('message');
    expect(duplicate).toMatchObject({ kind: 'ignored', reason: 'duplicate_of_app_mention' });
  });

  it('keeps other mentions readable and detects the bot by id, not by name', () => {
    const message = expectMessage(
      platform.parse(
        signedPayload(
          withEvent({
            type: 'message',
            channel_type: 'im',
            text: 'GroupGate, ask <@U0BOB> and <@U0CAROL|carol> in <#C0X|general> <!here> <https://x.io|docs>',
          }),
        ),
        NOW,
      ),
    );
    expect(message.mentionedBot).toBe(false);
    expect(message.text).toBe('GroupGate, ask @U0BOB and @carol in #general @here docs');
  });

  describe('captured docs example (app_mention)', () => {
    const docsPlatform = createSlackPlatform({ ...config, botUserId: 'U0LAN0Z89' }, deps);

    it('is normalised from a signed request', () => {
      const message = expectMessage(docsPlatform.parse(toRaw(buildSignedSlackRequest(fixture, ctx)), NOW));
      expect(message).toMatchObject({
        tenantId: 'T061EG9R6',
        chatId: 'C0LAN2Q65',
        senderId: 'U061F7AUR',
        eventId: 'Ev0LAN670R',
        messageId: '1515449522.000016',
        text: 'What is the hour of the pearl, ?',
        mentionedBot: true,
        timestamp: 1515449522000,
      });
      expect(message.replyHandle).toMatchObject({
        platform: 'slack',
        channel: 'C0LAN2Q65',
        threadTs: '1515449522.000016',
        messageTs: '1515449522.000016',
        userId: 'U061F7AUR',
        direct: false,
      });
    });
  });
});

describe('Slack parse: bad inputs end in typed errors or ignored reasons', () => {
  const valid = () => toRaw(emulator.buildMessageEvent(input, ctx));
  const goodBody = valid().body;
  const withHeaders = (headers: Record<string, string | undefined>): RawRequest => {
    const raw = valid();
    const merged: Record<string, string> = {};
    for (const [k, v] of Object.entries({ ...raw.headers, ...headers })) if (v !== undefined) merged[k] = v;
    return { ...raw, headers: merged };
  };

  type Case = [string, () => RawRequest, (new (...args: never[]) => Error) | string, number?];
  const cases: Case[] = [
    ['tampered signature', () => withHeaders({ 'x-slack-signature': `v0=${'0'.repeat(64)}` }), SignatureError],
    [
      'signature without the v0= prefix',
      () => withHeaders({ 'x-slack-signature': valid().headers['x-slack-signature']?.slice(3) }),
      SignatureError,
    ],
    ['missing signature', () => withHeaders({ 'x-slack-signature': undefined }), SignatureError],
    ['missing timestamp', () => withHeaders({ 'x-slack-request-timestamp': undefined }), SignatureError],
    [
      'timestamp changed after signing',
      () => withHeaders({ 'x-slack-request-timestamp': String(NOW / 1000 + 1) }),
      SignatureError,
    ],
    [
      'body changed after signing',
      () => ({ ...valid(), body: Buffer.concat([goodBody, Buffer.from(' ')]) }),
      SignatureError,
    ],
    ['signed with the wrong secret', () => signedRaw(goodBody, {}, 'wrong-secret'), SignatureError],
    ['stale timestamp (5 min + 1 s)', () => valid(), ReplayError, NOW + 301_000],
    ['future timestamp (5 min + 1 s)', () => valid(), ReplayError, NOW - 301_000],
    [
      'non-numeric timestamp, correctly signed',
      () =>
        signedRaw(goodBody, {
          'X-Slack-Request-Timestamp': 'now',
          'X-Slack-Signature': slackSignature(config.signingSecret, 'now', goodBody),
        }),
      ReplayError,
    ],
    ['GET request', () => ({ ...valid(), method: 'GET' }), MalformedEventError],
    ['wrong content type', () => signedRaw(goodBody, { 'Content-Type': 'text/plain' }), MalformedEventError],
    ['malformed JSON', () => signedRaw('{"type":'), MalformedEventError],
    ['JSON string body', () => signedRaw('"event_callback"'), MalformedEventError],
    ['invalid UTF-8 body', () => signedRaw(Buffer.from([0x7b, 0xe4, 0xb8, 0x7d])), MalformedEventError],
    ['url_verification without challenge', () => signedRaw('{"type":"url_verification"}'), MalformedEventError],
    [
      'event_callback without event_id',
      () => signedPayload((p) => ({ ...p, event_id: undefined })),
      MalformedEventError,
    ],
    ['event_callback without event', () => signedPayload((p) => ({ ...p, event: undefined })), MalformedEventError],
    ['message without user', () => signedPayload(withEvent({ user: undefined })), MalformedEventError],
    ['message without channel', () => signedPayload(withEvent({ channel: undefined })), MalformedEventError],
    ['message with a malformed ts', () => signedPayload(withEvent({ ts: 'yesterday' })), MalformedEventError],
    ['text is not a string', () => signedPayload(withEvent({ text: 42 })), MalformedEventError],
    [
      'no team anywhere',
      () => signedPayload((p) => ({ ...p, team_id: undefined, event: { ...p.event, team: undefined } })),
      MalformedEventError,
    ],
    [
      'an edit (message_changed)',
      () => signedPayload(withEvent({ type: 'message', subtype: 'message_changed' })),
      'unsupported_subtype:message_changed',
    ],
    [
      'a deletion (message_deleted)',
      () => signedPayload(withEvent({ type: 'message', subtype: 'message_deleted' })),
      'unsupported_subtype:message_deleted',
    ],
    [
      'a bot_message subtype',
      () => signedPayload(withEvent({ type: 'message', subtype: 'bot_message' })),
      'unsupported_subtype:bot_message',
    ],
    [
      'a channel file share that mentions the bot (its app_mention carries the files: files.test.ts)',
      () => signedPayload(withEvent({ type: 'message', subtype: 'file_share' })),
      'duplicate_of_app_mention',
    ],
    ['another bot (bot_id)', () => signedPayload(withEvent({ bot_id: 'B0OTHER' })), 'bot_message'],
    [
      "the bot's own message",
      () => signedPayload(withEvent({ type: 'message', channel_type: 'im', user: 'U0BOT' })),
      'own_message',
    ],
    [
      'a reaction event',
      () => signedPayload(withEvent({ type: 'reaction_added' })),
      'unsupported_event_type:reaction_added',
    ],
    [
      'an app_rate_limited envelope',
      () => signedRaw('{"type":"app_rate_limited","team_id":"T1"}'),
      'unsupported_envelope:app_rate_limited',
    ],
    [
      'a channel message mentioning another user, not the bot',
      () => signedPayload(withEvent({ type: 'message', channel_type: 'channel', text: '<@U0BOB> hi' })),
      'message:false',
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
    if (expected === 'message:false') {
      expect(outcome).toMatchObject({ kind: 'message', message: { mentionedBot: false, text: '@U0BOB hi' } });
    } else if (typeof expected === 'string') {
      expect(outcome).toMatchObject({ kind: 'ignored', reason: expected });
    } else {
      expect(outcome).toBeInstanceOf(expected);
    }
  });

  it('verifies the exact bytes: a Latin-1 or ascii round trip of Chinese text breaks the signature', () => {
    const raw = valid();
    expect(expectMessage(platform.parse(raw, NOW)).text).toBe(input.text);
    expect(() => platform.parse({ ...raw, body: Buffer.from(raw.body.toString('latin1'), 'utf8') }, NOW)).toThrow(
      SignatureError,
    );
    expect(() => platform.parse({ ...raw, body: Buffer.from(raw.body.toString('ascii'), 'ascii') }, NOW)).toThrow(
      SignatureError,
    );
  });

  it('never throws anything but a typed error on random bytes', () => {
    for (let i = 0; i < 200; i++) {
      const bytes = Buffer.from(Array.from({ length: (i * 7) % 97 }, (_, j) => (i * 31 + j * 17) % 256));
      try {
        platform.parse(signedRaw(bytes), NOW);
      } catch (err) {
        expect([MalformedEventError, SignatureError, ReplayError].some((type) => err instanceof type)).toBe(true);
      }
    }
  });
});
