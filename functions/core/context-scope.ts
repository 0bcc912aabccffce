import * as z from 'zod';
import { PLATFORMS, type PlatformName } from '#platforms/types';
import type { ContextScope } from './conversation-key';

const scope = z.enum(['member', 'group', 'thread']);

/** Context scope per platform or chat (`platform:chatId`); `member` unless configured. */
export const conversationScopeConfigSchema = z
  .object({
    default: scope.optional(),
    platforms: z.partialRecord(z.enum(PLATFORMS), scope).optional(),
    chats: z.record(z.string(), scope).optional(),
  })
  .strict();

export type ConversationScopeConfig = z.infer<typeof conversationScopeConfigSchema>;

export function scopeFor(config: ConversationScopeConfig, platform: PlatformName, chatId: string): ContextScope {
  return config.chats?.[`${platform}:${chatId}`] ?? config.platforms?.[platform] ?? config.default ?? 'member';
}
