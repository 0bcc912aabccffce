import type { IncomingMessage } from '../platforms/types';

/**
 * How far a conversation's memory reaches (ARCHITECTURE §2):
 * - `member` (default): each member of a group has a private context — the design's fix for "context confusion";
 * - `group`: the whole group shares one context;
 * - `thread`: like `member`, but each platform thread is its own conversation.
 */
export type ContextScope = 'member' | 'group' | 'thread';

/** The conversation key: DynamoDB key of the context and the SQS FIFO message group (one member's turns stay in order). */
export function conversationKey(
  message: Pick<IncomingMessage, 'platform' | 'tenantId' | 'chatId' | 'senderId' | 'threadId'>,
  scope: ContextScope,
): string {
  const group = [message.platform, message.tenantId, message.chatId];
  if (scope === 'group') return join(group);
  const member = [...group, message.senderId];
  if (scope === 'thread' && message.threadId) return join([...member, message.threadId]);
  return join(member);
}

/** The group's key for ledger and audit partitions. */
export function groupKey(message: Pick<IncomingMessage, 'platform' | 'tenantId' | 'chatId'>): string {
  return join([message.platform, message.tenantId, message.chatId]);
}

// `#` separates parts, so a `#` inside an id is escaped to keep keys unambiguous.
function join(parts: readonly string[]): string {
  return parts.map((p) => p.replaceAll('%', '%25').replaceAll('#', '%23')).join('#');
}
