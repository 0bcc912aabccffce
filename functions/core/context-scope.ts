import { PLATFORMS, type PlatformName } from '#platforms/types';
import * as z from '#shared/zod';
import type { ContextScope } from './conversation-key';

const scope = z.enum(['member', 'group', 'thread']);

/** Context scope per platform or chat (`platform:chatId`); `member` unless configured. */
export const conversationScopeConfigSchema = z.strictObject({
  default: z.optional(scope),
  platforms: z.optional(z.partialRecord(z.enum(PLATFORMS), scope)),
  chats: z.optional(z.record(z.string(), scope)),
});

export type ConversationScopeConfig = z.infer<typeof conversationScopeConfigSchema>;

export function scopeFor(config: ConversationScopeConfig, platform: PlatformName, chatId: string): ContextScope {
  return config.chats?.[`${platform}:${chatId}`] ?? config.platforms?.[platform] ?? config.default ?? 'member';
}
