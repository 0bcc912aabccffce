import { MalformedEventError } from '#core/errors';
import { createFeishuPlatform } from '#platforms/feishu/index';
import type { ParseResult } from '#platforms/types';
import {
  buildSignedFeishuRequest,
  encryptFeishu,
  feishuMessageEvent,
} from '../../../../sandbox/platform-emulator/feishu';
import fixture from '../../../fixtures/feishu/im-message-receive-group-mention.json';
import { config, emulatorContext, NOW, toRaw } from './helpers';

/**
 * `parseConnectionEvent`: an `event` data frame's JSON from the long connection (plaintext, unsigned) becomes exactly
 * the message the webhook path makes of the same event signed and encrypted.
 */
const deps = { fetch, now: () => NOW, sleep: async () => {} };
const platform = createFeishuPlatform(config, deps);
const ctx = emulatorContext();
const parseSocket = (payload: unknown): ParseResult => {
  if (!platform.parseConnectionEvent) throw new Error('Feishu has no parseConnectionEvent');
  return platform.parseConnectionEvent(payload, NOW);
};

describe('Feishu parseConnectionEvent', () => {
  it.each([
    ['a group @-mention', { chatId: 'oc_group1', userId: 'ou_alice', text: '今天的会议几点？🙂' }],
    ['a direct message', { chatId: 'oc_dm', userId: 'ou_bob', text: 'hi', direct: true }],
    ['a thread reply', { chatId: 'oc_group1', userId: 'ou_alice', text: 'and?', threadId: 'omt_1' }],
  ])('%s: the same message as the webhook’s parse of the signed, encrypted event', (_, input) => {
    const { event } = feishuMessageEvent(input, ctx);
    const webhook = platform.parse(toRaw(buildSignedFeishuRequest(event, ctx)), NOW);
    expect(webhook.kind).toBe('message');
    expect(parseSocket(event)).toEqual(webhook);
  });

  it('parses the documented sample event the same way', () => {
    // The webhook checks the sample's own token; the socket path checks none.
    const docs = createFeishuPlatform({ ...config, verificationToken: fixture.header.token }, deps);
    const webhook = docs.parse(toRaw(buildSignedFeishuRequest(fixture, ctx)), NOW);
    expect(webhook.kind).toBe('message');
    expect(parseSocket(JSON.parse(JSON.stringify(fixture)))).toEqual(webhook);
  });

  it('checks no verification token: the socket, not the body, is authenticated', () => {
    const { event } = feishuMessageEvent({ chatId: 'oc_1', userId: 'ou_1', text: 'x' }, ctx);
    const noToken = { ...event, header: { ...event.header, token: 'not-the-token' } };
    expect(parseSocket(noToken).kind).toBe('message');
  });

  it('opens an {encrypt} body with the Encrypt Key, as the SDK’s dispatcher would', () => {
    const { event } = feishuMessageEvent({ chatId: 'oc_1', userId: 'ou_1', text: 'sealed' }, ctx);
    const sealed = { encrypt: encryptFeishu(JSON.stringify(event), config.encryptKey) };
    expect(parseSocket(sealed)).toEqual(parseSocket(event));
  });

  it('ignores other event types and schema 1.0, naming the event', () => {
    const { event } = feishuMessageEvent({ chatId: 'oc_1', userId: 'ou_1', text: 'x' }, ctx);
    expect(parseSocket({ ...event, header: { ...event.header, event_type: 'im.chat.member.bot.added_v1' } })).toEqual({
      kind: 'ignored',
      reason: 'unsupported_event_type:im.chat.member.bot.added_v1',
      eventId: event.header.event_id,
    });
    expect(parseSocket({ uuid: 'u1', event: {}, type: 'event_callback' })).toEqual({
      kind: 'ignored',
      reason: 'unsupported_schema:1.0',
    });
  });

  it('throws MalformedEventError for bodies that are not the event', () => {
    const { event } = feishuMessageEvent({ chatId: 'oc_1', userId: 'ou_1', text: 'x' }, ctx);
    expect(() => parseSocket('text')).toThrow(MalformedEventError);
    expect(() => parseSocket({ schema: '2.0' })).toThrow(MalformedEventError);
    expect(() => parseSocket({ ...event, event: { ...event.event, message: undefined } })).toThrow(MalformedEventError);
    expect(() => parseSocket({ encrypt: 42 })).toThrow(MalformedEventError);
  });
});
