import { PlatformApiError } from '#core/errors';
import { askerMentionId, neutraliseBroadcastAt } from '#platforms/shared/mentions';
import { postReplyImages, withImages } from '#platforms/shared/reply-images';
import { prepareReplyParts, type ReplyLimits } from '#platforms/shared/reply-text';
import { type OutboundResponse, sendWithRetry } from '#platforms/shared/send-with-retry';
import type { AdapterDeps, OutgoingReply, SendResult } from '#platforms/types';
import { SLACK_TEXT_LIMIT_CHARS } from './config';
import { postSlackImage } from './upload-image';

interface SlackTarget {
  readonly channel: string;
  readonly threadTs?: string;
}

/**
 * What may go inside `<@…>`: Slack's ids are `U…`/`W…` in upper-case letters and digits; the check only refuses what
 * could end the token or start other markup (`>`, `|`, `<`, `&`, `!`, whitespace), so sandbox ids like `alice` work.
 */
export const SLACK_USER_ID_SHAPE = /^[^\s<>|&!]{1,256}$/u;

/**
 * Posts a reply with `chat.postMessage`, one call per part. Slack signals throttling either as HTTP 429 with
 * `Retry-After` or as HTTP 200 `{"ok":false,"error":"ratelimited"}`; both are retried. Any other `ok:false` is
 * final. `chat.postMessage` has no idempotency key, so a 5xx is retried on the assumption that nothing was posted.
 * The text is sanitised and bounded by `limits` (`prepareReplyParts`), then `&`, `<`, `>` are escaped per part, which
 * turns every `<!channel>`, `<!here>`, `<!everyone>`, `<@U…>` and `<!subteam^…>` into literal text: the only live
 * mention is the asker's `<@U…>`, added here. Then the reply's images, each shared into the same place
 * (`upload-image.ts`).
 */
export async function sendSlackReply(
  apiBaseUrl: string,
  botToken: string,
  reply: OutgoingReply,
  target: SlackTarget,
  deps: AdapterDeps,
  limits: ReplyLimits,
): Promise<SendResult> {
  const asker = askerMentionId(reply.mentionUserId, SLACK_USER_ID_SHAPE);
  const mention = asker ? `<@${asker}> ` : '';
  const parts = prepareReplyParts(reply.text, {
    limits,
    limit: SLACK_TEXT_LIMIT_CHARS,
    unit: 'chars',
    // Markup is escaped per part below; plain `@here`/`@channel` is no mention with the default `parse: none`, and
    // is made full-width anyway so it cannot become one if a post ever sets `link_names`.
    neutralise: neutraliseBroadcastAt,
  });
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
  // The text is out: images follow it in the same place, and a failed one is reported, never thrown.
  const images = await postReplyImages(reply.images, (image, index) =>
    postSlackImage(apiBaseUrl, botToken, target, image, index, deps),
  );
  return withImages({ messageIds }, images);
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
