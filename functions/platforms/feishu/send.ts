import { createHash } from 'node:crypto';
import { PlatformApiError } from '#core/errors';
import { askerMentionId } from '#platforms/shared/mentions';
import { prepareReplyParts, type ReplyLimits } from '#platforms/shared/reply-text';
import { type OutboundResponse, sendWithRetry } from '#platforms/shared/send-with-retry';
import type { TokenCache } from '#platforms/shared/token-cache';
import type { AdapterDeps, OutgoingReply, SendResult } from '#platforms/types';
import { FEISHU_POST_LIMIT_BYTES, FEISHU_TEXT_LIMIT_BYTES } from './config';
import { FEISHU_USER_ID_SHAPE, neutraliseFeishuMentions } from './mentions';

/** Feishu codes meaning the tenant_access_token is missing, invalid or expired: refresh it and retry once. */
/** Feishu's codes for a missing, invalid or expired `tenant_access_token`. */
export const TOKEN_REJECTED_CODES: ReadonlySet<number> = new Set([99991661, 99991663, 99991668]);
/** Feishu's "request trigger frequency limit" code, sent with or without HTTP 429. */
export const FEISHU_RATE_LIMITED_CODE = 99991400;

interface FeishuReplyTarget {
  readonly messageId: string;
  readonly inThread: boolean;
}

/**
 * Sends a reply as one or more `im/v1/messages/{message_id}/reply` calls. Each part carries a `uuid` derived from
 * the reply's idempotency key and the part index, so Feishu drops a repeated call (within 1 h) instead of
 * posting the part twice: a worker retry after a crash re-sends safely.
 * The text is sanitised, its `<at>` tags neutralised and bounded by `limits` (`prepareReplyParts`); the only live
 * mention is the asker's, added here.
 */
export async function sendFeishuReply(
  apiBaseUrl: string,
  reply: OutgoingReply,
  target: FeishuReplyTarget,
  tokens: TokenCache,
  deps: AdapterDeps,
  limits: ReplyLimits,
): Promise<SendResult> {
  const limit = reply.format === 'markdown' ? FEISHU_POST_LIMIT_BYTES : FEISHU_TEXT_LIMIT_BYTES;
  const asker = askerMentionId(reply.mentionUserId, FEISHU_USER_ID_SHAPE);
  const mention = asker ? `<at user_id="${asker}"></at> ` : '';
  const parts = prepareReplyParts(reply.text, {
    limits,
    limit: limit - Buffer.byteLength(mention),
    unit: 'bytes',
    neutralise: neutraliseFeishuMentions,
  });
  const messageIds: string[] = [];
  for (const [index, part] of parts.entries()) {
    const body = {
      msg_type: reply.format === 'markdown' ? 'post' : 'text',
      content: JSON.stringify(messageContent(reply.format, (index === 0 ? mention : '') + part)),
      reply_in_thread: target.inThread,
      uuid: partUuid(reply.idempotencyKey, index),
    };
    const url = `${apiBaseUrl}/open-apis/im/v1/messages/${encodeURIComponent(target.messageId)}/reply`;
    const response = await withTokenRefresh(tokens, (token) =>
      sendWithRetry(
        () => ({
          url,
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json; charset=utf-8' },
          body: JSON.stringify(body),
        }),
        deps,
        { isThrottled: (r) => feishuCode(r.body) === FEISHU_RATE_LIMITED_CODE },
      ),
    );
    messageIds.push(readMessageId(response));
  }
  return { messageIds };
}

function messageContent(format: OutgoingReply['format'], text: string): object {
  if (format === 'text') {
    return { text };
  }
  // A `post` with one `md` element renders markdown (code blocks, lists, links) and `<at>` mentions.
  return { zh_cn: { content: [[{ tag: 'md', text }]] } };
}

/** The send `uuid` of a reply's first message, one-shot part 0 or streamed card alike (see `createFeishuCardOps`). */
export function firstMessageUuid(idempotencyKey: string): string {
  return partUuid(idempotencyKey, 0);
}

function partUuid(idempotencyKey: string, index: number): string {
  return feishuUuid(idempotencyKey, String(index));
}

/**
 * A send `uuid` for one message of a reply: a hash of the idempotency key plus a `suffix` naming the message (its part
 * index; a streamed card is part 0), so no two messages of one reply share a uuid. Feishu caps `uuid` at 50
 * characters; the hash keeps any key within it (the suffix may take up to 9).
 */
export function feishuUuid(idempotencyKey: string, suffix: string): string {
  return `${createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 40)}-${suffix}`.slice(0, 50);
}

/**
 * Runs `call` with the cached token; when Feishu says the token is invalid or expired, drops it and runs `call`
 * once more with a fresh one. A second rejection is an error: the credentials, not the cache, are wrong.
 */
export async function withTokenRefresh(
  tokens: TokenCache,
  call: (token: string) => Promise<OutboundResponse>,
): Promise<OutboundResponse> {
  const token = await tokens.get();
  try {
    return assertFeishuOk(await call(token));
  } catch (err) {
    if (!(err instanceof PlatformApiError) || !TOKEN_REJECTED_CODES.has(feishuCode(err.body) ?? 0)) {
      throw err;
    }
    tokens.invalidate(token);
    return assertFeishuOk(await call(await tokens.get()));
  }
}

/** Feishu answers some errors with HTTP 200 and a non-zero `code`; those are errors too. */
function assertFeishuOk(response: OutboundResponse): OutboundResponse {
  const code = feishuCode(response.body);
  if (code !== 0) {
    throw new PlatformApiError(`Feishu answered code ${code ?? 'none'}`, response.status, response.body);
  }
  return response;
}

export function feishuCode(body: string): number | undefined {
  try {
    const code = (JSON.parse(body) as { code?: unknown } | null)?.code;
    return typeof code === 'number' ? code : undefined;
  } catch {
    return undefined;
  }
}

export function readMessageId(response: OutboundResponse): string {
  const id = (JSON.parse(response.body) as { data?: { message_id?: unknown } }).data?.message_id;
  if (typeof id !== 'string') {
    throw new PlatformApiError('Feishu reply response has no data.message_id', response.status, response.body);
  }
  return id;
}

/** Fetches a `tenant_access_token` for an internal (self-built) app. */
export async function fetchTenantAccessToken(
  apiBaseUrl: string,
  appId: string,
  appSecret: string,
  deps: AdapterDeps,
): Promise<{ value: string; expiresAt: number }> {
  const response = await sendWithRetry(
    () => ({
      url: `${apiBaseUrl}/open-apis/auth/v3/tenant_access_token/internal`,
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({ app_id: appId, app_secret: appSecret }),
    }),
    deps,
  );
  const body = JSON.parse(response.body) as { code?: unknown; tenant_access_token?: unknown; expire?: unknown };
  if (body.code !== 0 || typeof body.tenant_access_token !== 'string' || typeof body.expire !== 'number') {
    throw new PlatformApiError('Feishu token endpoint refused', response.status, response.body);
  }
  return { value: body.tenant_access_token, expiresAt: deps.now() + body.expire * 1000 };
}
