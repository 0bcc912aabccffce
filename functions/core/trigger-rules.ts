import { type IncomingMessage, PLATFORMS, type PlatformName } from '#platforms/types';
import * as z from '#shared/zod';

/** When the bot answers. Rules merge from general to specific: defaults → platform → group. */
export const triggerRuleSchema = z.strictObject({
  /** Answer when the bot is @-mentioned (by bot id). @default true */
  mention: z.boolean(),
  /** Answer every direct message. @default true */
  directMessages: z.boolean(),
  /** Answer group messages that start with one of these prefixes (e.g. `/ai`), without a mention. @default [] */
  prefixes: z.array(z.string().check(z.minLength(1))),
  /** When non-empty, only these chat ids trigger. @default [] */
  allowChats: z.array(z.string().check(z.minLength(1))),
  /** These chat ids never trigger. @default [] */
  denyChats: z.array(z.string().check(z.minLength(1))),
  /**
   * Answer a group voice message (an `audio` attachment and no text) without a mention: on Feishu a voice message
   * cannot @-mention anyone, so no other rule admits it in a group. `VOICE_GROUP_CHATS` turns it on per chat.
   * @default false
   */
  voiceMessages: z.boolean(),
});

export type TriggerRule = z.infer<typeof triggerRuleSchema>;

export const triggerConfigSchema = z.strictObject({
  default: z.optional(z.partial(triggerRuleSchema)),
  platforms: z.optional(z.partialRecord(z.enum(PLATFORMS), z.partial(triggerRuleSchema))),
  /** Keyed by `platform:chatId`. */
  chats: z.optional(z.record(z.string(), z.partial(triggerRuleSchema))),
});

export type TriggerConfig = z.infer<typeof triggerConfigSchema>;

export const DEFAULT_TRIGGER_RULE: TriggerRule = {
  mention: true,
  directMessages: true,
  prefixes: [],
  allowChats: [],
  denyChats: [],
  voiceMessages: false,
};

export type TriggerDecision =
  | { readonly triggered: true; readonly text: string }
  | { readonly triggered: false; readonly reason: string };

export function ruleFor(config: TriggerConfig, platform: PlatformName, chatId: string): TriggerRule {
  return {
    ...DEFAULT_TRIGGER_RULE,
    ...config.default,
    ...config.platforms?.[platform],
    ...config.chats?.[`${platform}:${chatId}`],
  };
}

/**
 * The rules with `voiceMessages` on for each `platform:chatId` listed (`VOICE_GROUP_CHATS`): the chat's own rule is
 * kept, so its deny and allow lists still apply.
 */
export function withVoiceGroupChats(config: TriggerConfig, chats: readonly string[]): TriggerConfig {
  if (chats.length === 0) return config;
  const rules = { ...config.chats };
  for (const chat of chats) rules[chat] = { ...rules[chat], voiceMessages: true };
  return { ...config, chats: rules };
}

/** A voice message: audio and no typed text (what the worker transcribes into the question). */
const isVoiceMessage = (message: IncomingMessage, text: string): boolean =>
  text === '' && (message.attachments ?? []).some((attachment) => attachment.kind === 'audio');

/** Decides whether a message should reach the model; a matched prefix is removed from the text. */
export function evaluateTrigger(message: IncomingMessage, config: TriggerConfig): TriggerDecision {
  const rule = ruleFor(config, message.platform, message.chatId);
  if (rule.denyChats.includes(message.chatId)) return { triggered: false, reason: 'chat_denied' };
  if (rule.allowChats.length > 0 && !rule.allowChats.includes(message.chatId)) {
    return { triggered: false, reason: 'chat_not_allowed' };
  }
  const text = message.text.trim();
  if (message.chatType === 'direct') {
    return rule.directMessages ? { triggered: true, text } : { triggered: false, reason: 'direct_messages_off' };
  }
  const prefix = rule.prefixes.find((p) => text === p || text.startsWith(`${p} `) || text.startsWith(`${p}\n`));
  if (prefix) return { triggered: true, text: text.slice(prefix.length).trim() };
  if (message.mentionedBot && rule.mention) return { triggered: true, text };
  if (!message.mentionedBot && isVoiceMessage(message, text)) {
    return rule.voiceMessages ? { triggered: true, text } : { triggered: false, reason: 'voice_without_mention' };
  }
  return { triggered: false, reason: message.mentionedBot ? 'mentions_off' : 'bot_not_mentioned' };
}
