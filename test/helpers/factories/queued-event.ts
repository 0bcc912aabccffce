import type { QueuedEvent } from '#core/queue-message';
import type { IncomingMessage, PlatformName, ReplyHandle } from '#platforms/types';

/** The clock every factory defaults to, so builders agree with each other without a shared `now`. */
export const FACTORY_NOW = Date.UTC(2026, 10, 25, 9, 0, 0);

/** Per platform: plausible ids in that platform's own style (Slack `C…`/`U…`, Feishu `oc_…`/`ou_…`, …). */
const DEFAULTS: Record<
  PlatformName,
  Pick<IncomingMessage, 'tenantId' | 'chatId' | 'senderId' | 'eventId' | 'messageId'>
> = {
  slack: { tenantId: 'T1', chatId: 'C1', senderId: 'U1', eventId: 'Ev1', messageId: '1.1' },
  feishu: { tenantId: 't1', chatId: 'oc_group', senderId: 'ou_alice', eventId: 'evt-1', messageId: 'om_1' },
  dingtalk: { tenantId: 'ding-corp', chatId: 'cid-group', senderId: 'staff-1', eventId: 'msg-1', messageId: 'msg-1' },
  wecom: { tenantId: 'wecom-corp', chatId: 'wr-group', senderId: 'alice', eventId: 'msgid-1', messageId: 'msgid-1' },
};

/** The reply handle the platform's parser would derive for this message (a Slack thread replies in the thread). */
function replyHandleOf(m: Omit<IncomingMessage, 'replyHandle'>): ReplyHandle {
  switch (m.platform) {
    case 'slack':
      return { platform: 'slack', channel: m.chatId, ...(m.threadId ? { threadTs: m.threadId } : {}) };
    case 'feishu':
      return { platform: 'feishu', chatId: m.chatId, messageId: m.messageId, inThread: m.threadId !== undefined };
    case 'dingtalk':
      return { platform: 'dingtalk', conversationId: m.chatId };
    case 'wecom':
      return { platform: 'wecom', chatId: m.chatId };
  }
}

/**
 * A platform message as an adapter's `parse` returns it, for `platform` (default Slack): a group message that
 * @-mentions the bot, sent at `FACTORY_NOW`, with the reply handle that platform's parser would derive.
 */
export function incomingMessage(
  platform: PlatformName = 'slack',
  overrides: Partial<Omit<IncomingMessage, 'platform'>> = {},
): IncomingMessage {
  const { replyHandle, ...fields } = overrides;
  const base: Omit<IncomingMessage, 'replyHandle'> = {
    platform,
    ...DEFAULTS[platform],
    chatType: 'group',
    text: 'what is the deploy window?',
    mentionedBot: true,
    timestamp: FACTORY_NOW,
    ...fields,
  };
  return { ...base, replyHandle: replyHandle ?? replyHandleOf(base) };
}

export interface QueuedEventOverrides extends Partial<Omit<QueuedEvent, 'v' | 'message'>> {
  /** Fields of the platform message; `text` defaults to the event's `text`, `replyHandle` to the platform's own. */
  readonly message?: Partial<Omit<IncomingMessage, 'platform'>>;
}

/**
 * A queue message as the webhook writes it, for `platform` (default Slack): a group message that @-mentions the bot,
 * received at `FACTORY_NOW`. The conversation key is the per-member default (`platform#tenant#chat#sender`) unless
 * given. Passes the worker's `queuedEventSchema`.
 */
export function queuedEvent(platform: PlatformName = 'slack', overrides: QueuedEventOverrides = {}): QueuedEvent {
  const { message: messageOverrides = {}, ...eventOverrides } = overrides;
  const text = eventOverrides.text ?? 'what is the deploy window?';
  const receivedAt = eventOverrides.receivedAt ?? FACTORY_NOW;
  const message = incomingMessage(platform, { text, timestamp: receivedAt, ...messageOverrides });
  return {
    v: 1,
    conversationKey: `${platform}#${message.tenantId}#${message.chatId}#${message.senderId}`,
    text,
    receivedAt,
    message,
    ...eventOverrides,
  };
}
