import { PlatformApiError } from '../../core/errors';
import { type OutboundResponse, sendWithRetry } from '../shared/send-with-retry';
import { splitReply } from '../shared/split-reply';
import type { AdapterDeps, OutgoingReply, SendResult } from '../types';
import { SLACK_TEXT_LIMIT_CHARS } from './config';

interface SlackTarget {
  readonly channel: string;
  readonly threadTs?: string;
}

/**
 * Posts a reply with `chat.postMessage`, one call per part. Slack signals throttling either as HTTP 429 with
 * `Retry-After` or as HTTP 200 `{"ok":false,"error":"ratelimited"}`; both are retried. Any other `ok:false` is
 * final. `chat.postMessage` has no idempotency key, so a 5xx is retried on the assumption that nothing was posted.
 */
export async function sendSlackReply(
  apiBaseUrl: string,
  botToken: string,
  reply: OutgoingReply,
  target: SlackTarget,
  deps: AdapterDeps,
): Promise<SendResult> {
  const mention = reply.mentionUserId ? `<@${reply.mentionUserId}> ` : '';
  const parts = splitReply(reply.text, { limit: SLACK_TEXT_LIMIT_CHARS, unit: 'chars' });
  const messageIds: string[] = [];
  for (const [index, part] of parts.entries()) {
    const body = JSON.stringify({
      channel: target.channel,
      text: (index === 0 ? mention : '') + escapeSlackText(part),
      ...(target.threadTs ? { thread_ts: target.threadTs } : {}),
      mrkdwn: reply.format === 'markdown',
    });
    const response = await sendWithRetry(
      () => ({
        url: `${apiBaseUrl}/api/chat.postMessage`,
        method: 'POST',
        headers: { authorization: `Bearer ${botToken}`, 'content-type': 'application/json; charset=utf-8' },
        body,
      }),
      deps,
      { isThrottled: (r) => slackError(r) === 'ratelimited' },
    );
    messageIds.push(readTs(response));
  }
  return { messageIds };
}

/** Slack's three control characters must be escaped in message text, or `a < b` would be read as markup. */
function escapeSlackText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function slackError(response: OutboundResponse): string | undefined {
  try {
    const body = JSON.parse(response.body) as { ok?: unknown; error?: unknown };
    return body.ok === false && typeof body.error === 'string' ? body.error : undefined;
  } catch {
    return undefined;
  }
}

function readTs(response: OutboundResponse): string {
  let body: { ok?: unknown; ts?: unknown } | undefined;
  try {
    body = JSON.parse(response.body) as { ok?: unknown; ts?: unknown };
  } catch {
    body = undefined;
  }
  if (body?.ok !== true || typeof body.ts !== 'string') {
    throw new PlatformApiError(
      `Slack chat.postMessage failed: ${slackError(response) ?? 'unexpected response'}`,
      response.status,
      response.body,
    );
  }
  return body.ts;
}
