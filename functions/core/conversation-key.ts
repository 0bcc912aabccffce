import type { IncomingMessage, LedgerPlatform } from '#platforms/types';
import { joinKey as join } from './key-part';

/**
 * How far a conversation's memory reaches (ARCHITECTURE §2):
 * - `member` (default): each member of a group has a private context — the design's fix for "context confusion";
 * - `group`: the whole group shares one context;
 * - `thread`: like `member`, but each platform thread is its own conversation.
 */
export type ContextScope = 'member' | 'group' | 'thread';

/** Whose key: a chat platform's group, or `api` for `/v1/chat` callers (tenant = JWT subject, chat = X-Group-ID). */
export interface KeyOwner {
  readonly platform: LedgerPlatform;
  readonly tenantId: string;
  readonly chatId: string;
}

/**
 * The conversation key: DynamoDB key of the context, and (through `fifoId`, which hashes it when it is over 128
 * characters) the SQS FIFO message group, so one member's turns stay in order. At most ~670 bytes: five parts of
 * at most 128 characters (`keyPart`).
 */
export function conversationKey(
  message: KeyOwner & Pick<IncomingMessage, 'senderId' | 'threadId'>,
  scope: ContextScope,
): string {
  const group = [message.platform, message.tenantId, message.chatId];
  if (scope === 'group') return join(group);
  const member = [...group, message.senderId];
  if (scope === 'thread' && message.threadId) return join([...member, message.threadId]);
  return join(member);
}

/** The group's key for ledger and audit partitions (parts bounded by `keyPart` as above). */
export function groupKey(message: KeyOwner): string {
  return join([message.platform, message.tenantId, message.chatId]);
}
