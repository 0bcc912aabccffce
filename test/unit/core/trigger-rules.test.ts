import { evaluateTrigger, ruleFor, type TriggerConfig, withVoiceGroupChats } from '#core/trigger-rules';
import type { IncomingMessage } from '#platforms/types';
import { incomingMessage } from '../../helpers/factories';

/** `evaluateTrigger`: which messages reach the model, and the question text they carry. */

function message(overrides: Partial<IncomingMessage> = {}): IncomingMessage {
  return incomingMessage('slack', {
    text: 'What is the VPN address?',
    timestamp: Date.UTC(2026, 10, 25),
    ...overrides,
  });
}

describe('evaluateTrigger defaults (no configuration)', () => {
  it('answers a group message that @-mentions the bot, with the text trimmed', () => {
    expect(evaluateTrigger(message({ text: '  What is the VPN address?\n' }), {})).toEqual({
      triggered: true,
      text: 'What is the VPN address?',
    });
  });

  it('ignores a group message without a mention', () => {
    expect(evaluateTrigger(message({ mentionedBot: false }), {})).toEqual({
      triggered: false,
      reason: 'bot_not_mentioned',
    });
  });

  it('answers every direct message, mention or not', () => {
    expect(evaluateTrigger(message({ chatType: 'direct', mentionedBot: false }), {})).toEqual({
      triggered: true,
      text: 'What is the VPN address?',
    });
  });

  it('passes an empty question on (the pipeline answers it with the empty-question hint)', () => {
    expect(evaluateTrigger(message({ text: '   ' }), {})).toEqual({ triggered: true, text: '' });
  });

  it('passes a question the content filter would block on: safety is the pipeline’s job, not the trigger’s', () => {
    expect(evaluateTrigger(message({ text: 'tell me the 绝密配方' }), {})).toEqual({
      triggered: true,
      text: 'tell me the 绝密配方',
    });
  });
});

describe('prefixes', () => {
  const config: TriggerConfig = { default: { prefixes: ['/ai', '#ask'] } };

  it.each([
    ['/ai what is the VPN?', 'what is the VPN?'],
    ['  #ask   who approves leave?  ', 'who approves leave?'],
    ['/ai\nmultiline question', 'multiline question'],
  ])('%j triggers without a mention; the prefix is removed', (text, question) => {
    expect(evaluateTrigger(message({ text, mentionedBot: false }), config)).toEqual({
      triggered: true,
      text: question,
    });
  });

  it('a bare prefix is an empty question', () => {
    expect(evaluateTrigger(message({ text: '/ai', mentionedBot: false }), config)).toEqual({
      triggered: true,
      text: '',
    });
  });

  it.each(['/aim high', 'please /ai answer', '/AI what'])('%j is not the prefix', (text) => {
    expect(evaluateTrigger(message({ text, mentionedBot: false }), config)).toEqual({
      triggered: false,
      reason: 'bot_not_mentioned',
    });
  });

  it('a mention still triggers, and a prefix with a mention is removed', () => {
    expect(evaluateTrigger(message({ text: '/ai what?' }), config)).toEqual({ triggered: true, text: 'what?' });
  });

  it('do not apply to direct messages, which are answered as typed', () => {
    expect(evaluateTrigger(message({ chatType: 'direct', text: '/ai what?' }), config)).toEqual({
      triggered: true,
      text: '/ai what?',
    });
  });
});

describe('allow and deny lists', () => {
  it('a denied chat never triggers, even with a mention or in a direct message', () => {
    const config: TriggerConfig = { default: { denyChats: ['C1'] } };
    expect(evaluateTrigger(message(), config)).toEqual({ triggered: false, reason: 'chat_denied' });
    expect(evaluateTrigger(message({ chatType: 'direct' }), config)).toEqual({
      triggered: false,
      reason: 'chat_denied',
    });
    expect(evaluateTrigger(message({ chatId: 'C2' }), config).triggered).toBe(true);
  });

  it('a non-empty allow list admits only its chats', () => {
    const config: TriggerConfig = { default: { allowChats: ['C2'] } };
    expect(evaluateTrigger(message(), config)).toEqual({ triggered: false, reason: 'chat_not_allowed' });
    expect(evaluateTrigger(message({ chatId: 'C2' }), config).triggered).toBe(true);
  });

  it('deny wins over allow', () => {
    const config: TriggerConfig = { default: { allowChats: ['C1'], denyChats: ['C1'] } };
    expect(evaluateTrigger(message(), config)).toEqual({ triggered: false, reason: 'chat_denied' });
  });
});

describe('switches and precedence (defaults → platform → chat)', () => {
  it('direct messages can be turned off', () => {
    const config: TriggerConfig = { default: { directMessages: false } };
    expect(evaluateTrigger(message({ chatType: 'direct' }), config)).toEqual({
      triggered: false,
      reason: 'direct_messages_off',
    });
  });

  it('mentions can be turned off; a prefix still triggers', () => {
    const config: TriggerConfig = { default: { mention: false, prefixes: ['/ai'] } };
    expect(evaluateTrigger(message(), config)).toEqual({ triggered: false, reason: 'mentions_off' });
    expect(evaluateTrigger(message({ text: '/ai hi' }), config)).toEqual({ triggered: true, text: 'hi' });
  });

  it('a platform rule overrides the default, and a chat rule overrides both', () => {
    const config: TriggerConfig = {
      default: { prefixes: ['/ai'] },
      platforms: { slack: { mention: false } },
      chats: { 'slack:C9': { mention: true } },
    };
    expect(ruleFor(config, 'slack', 'C1')).toMatchObject({ mention: false, prefixes: ['/ai'] });
    expect(evaluateTrigger(message(), config)).toEqual({ triggered: false, reason: 'mentions_off' });
    expect(evaluateTrigger(message({ chatId: 'C9' }), config).triggered).toBe(true);
    expect(evaluateTrigger(message({ platform: 'feishu' }), config).triggered).toBe(true);
  });

  it('a chat rule is keyed by platform: the same chat id on another platform keeps its own rules', () => {
    const config: TriggerConfig = { chats: { 'feishu:C1': { denyChats: ['C1'] } } };
    expect(evaluateTrigger(message({ platform: 'feishu' }), config).triggered).toBe(false);
    expect(evaluateTrigger(message(), config).triggered).toBe(true);
  });
});

describe('voice messages in groups (voiceMessages, VOICE_GROUP_CHATS)', () => {
  /** A Feishu group voice message: audio, no text, and so no @-mention. */
  const voice = (overrides: Partial<IncomingMessage> = {}): IncomingMessage =>
    incomingMessage('feishu', {
      chatId: 'oc_team',
      text: '',
      mentionedBot: false,
      attachments: [{ kind: 'audio', name: 'voice message', ref: '{"m":"om_1","k":"f_1"}' }],
      ...overrides,
    });
  const listed = withVoiceGroupChats({}, ['feishu:oc_team']);

  it('admits a voice message without a mention in a listed chat, as an empty question the worker transcribes', () => {
    expect(evaluateTrigger(voice(), listed)).toEqual({ triggered: true, text: '' });
  });

  it('ignores it, with its own reason, in a chat that is not listed', () => {
    expect(evaluateTrigger(voice(), {})).toEqual({ triggered: false, reason: 'voice_without_mention' });
    expect(evaluateTrigger(voice({ chatId: 'oc_other' }), listed)).toEqual({
      triggered: false,
      reason: 'voice_without_mention',
    });
  });

  it('the list is keyed by platform: the same chat id on Slack is not listed', () => {
    expect(evaluateTrigger(voice({ platform: 'slack' }), listed).triggered).toBe(false);
  });

  it('admits only voice messages: text, or a shared file, without a mention is still ignored in a listed chat', () => {
    expect(evaluateTrigger(voice({ text: 'what is the VPN?', attachments: [] }), listed)).toEqual({
      triggered: false,
      reason: 'bot_not_mentioned',
    });
    const file = { kind: 'file', name: 'sales.csv', ref: '{"m":"om_2","k":"f_2"}' } as const;
    expect(evaluateTrigger(voice({ attachments: [file] }), listed)).toEqual({
      triggered: false,
      reason: 'bot_not_mentioned',
    });
  });

  it('audio with typed text is a text message (the worker answers the text), so it needs a mention', () => {
    expect(evaluateTrigger(voice({ text: 'listen to this' }), listed)).toEqual({
      triggered: false,
      reason: 'bot_not_mentioned',
    });
  });

  it('the chat’s deny and allow lists still apply', () => {
    expect(
      evaluateTrigger(voice(), withVoiceGroupChats({ default: { denyChats: ['oc_team'] } }, ['feishu:oc_team'])),
    ).toEqual({ triggered: false, reason: 'chat_denied' });
    expect(
      evaluateTrigger(voice(), withVoiceGroupChats({ default: { allowChats: ['oc_sales'] } }, ['feishu:oc_team'])),
    ).toEqual({ triggered: false, reason: 'chat_not_allowed' });
  });

  it('a voice message with a mention (a Slack clip shared with @bot) passes as before, listed or not', () => {
    expect(evaluateTrigger(voice({ platform: 'slack', chatId: 'C1', mentionedBot: true }), {})).toEqual({
      triggered: true,
      text: '',
    });
  });

  it('listing a chat keeps the rest of its own rule, and an empty list changes nothing', () => {
    const config: TriggerConfig = { chats: { 'feishu:oc_team': { prefixes: ['/ai'] } } };
    expect(ruleFor(withVoiceGroupChats(config, ['feishu:oc_team']), 'feishu', 'oc_team')).toMatchObject({
      prefixes: ['/ai'],
      voiceMessages: true,
    });
    expect(withVoiceGroupChats(config, [])).toBe(config);
  });

  it('TRIGGER_RULES can turn it on for a whole platform', () => {
    expect(evaluateTrigger(voice(), { platforms: { feishu: { voiceMessages: true } } }).triggered).toBe(true);
  });
});
