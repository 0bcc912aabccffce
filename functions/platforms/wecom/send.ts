import { PlatformApiError } from '#core/errors';
import { isAllowedReplyUrl, isRecord, type OutboundResponse, sendWithRetry } from '#platforms/shared/index';
import { prepareReplyParts } from '#platforms/shared/reply-text';
import type { AdapterDeps, OutgoingReply, SendResult } from '#platforms/types';
import type { ResolvedWeComConfig } from './config';
import { neutraliseWeComMentions } from './mentions';

/**
 * `markdown.content` / `text.content` of an AI-bot reply: at most 20480 UTF-8 bytes (WeCom AI-bot reply docs).
 * `response_url` can be used only once, so a longer answer cannot be split into several messages: it is cut at a
 * paragraph/line/sentence boundary within the limit and marked as shortened (`TRUNCATION_NOTE`).
 */
export const WECOM_REPLY_LIMIT_BYTES = 20_480;
/** `errcode` values that mean "try again later": -1 system busy, 45009 API frequency limit. */
const RETRYABLE_ERRCODES = new Set([-1, 45009]);

/**
 * Posts the reply to the event's `response_url` (once). The text is sanitised, its `<@…>` mentions neutralised and
 * cut to `replyLimits.maxChars` and one message. No mention is added (the asker sees the reply to their message).
 */
export async function sendWeComReply(
  reply: OutgoingReply,
  config: ResolvedWeComConfig,
  deps: AdapterDeps,
): Promise<SendResult> {
  if (reply.handle.platform !== 'wecom') {
    throw new PlatformApiError(`WeCom adapter cannot send to a ${reply.handle.platform} reply handle`, 0, '');
  }
  const { responseUrl, responseUrlExpiresAt } = reply.handle;
  const unusable = whyUnusable(responseUrl, responseUrlExpiresAt, config, deps.now());
  if (unusable || responseUrl === undefined) {
    throw new PlatformApiError(`WeCom reply for chat ${reply.handle.chatId} cannot be sent: ${unusable}`, 0, '');
  }
  const [content = ''] = prepareReplyParts(reply.text, {
    limits: { ...config.replyLimits, maxMessages: 1 },
    limit: WECOM_REPLY_LIMIT_BYTES,
    unit: 'bytes',
    neutralise: neutraliseWeComMentions,
  });
  const body =
    reply.format === 'markdown'
      ? { msgtype: 'markdown', markdown: { content } }
      : { msgtype: 'text', text: { content } };

  const response = await sendWithRetry(
    () => ({
      url: responseUrl,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }),
    deps,
    { isThrottled: (r) => RETRYABLE_ERRCODES.has(errcodeOf(r) ?? 0) },
  );
  const errcode = errcodeOf(response);
  if (errcode !== 0) {
    throw new PlatformApiError(
      `WeCom response_url answered errcode ${String(errcode)}`,
      response.status,
      response.body,
    );
  }
  return { messageIds: [reply.idempotencyKey] };
}

function whyUnusable(
  url: string | undefined,
  expiresAt: number | undefined,
  config: ResolvedWeComConfig,
  now: number,
): string | undefined {
  if (url === undefined) {
    return 'the event carried no usable response_url (absent, or its origin is not on the allowlist)';
  }
  if (!isAllowedReplyUrl(url, config.replyUrls)) {
    return `response_url origin ${safeOrigin(url)} is not on the allowlist`;
  }
  if (expiresAt === undefined || now >= expiresAt) {
    return 'response_url has expired (usable within 1 hour of the callback)';
  }
  return undefined;
}

function errcodeOf(response: OutboundResponse): number | undefined {
  try {
    const parsed: unknown = JSON.parse(response.body);
    return isRecord(parsed) && typeof parsed.errcode === 'number' ? parsed.errcode : undefined;
  } catch {
    return undefined;
  }
}

function safeOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(unparseable URL)';
  }
}
