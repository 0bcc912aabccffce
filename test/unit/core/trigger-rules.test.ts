import { evaluateTrigger, ruleFor, type TriggerConfig } from '#core/trigger-rules';
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
