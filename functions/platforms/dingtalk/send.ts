import { PlatformApiError } from '#core/errors';
import {
  isAllowedReplyUrl,
  isRecord,
  type OutboundResponse,
  type SendDeps,
  sendWithRetry,
} from '#platforms/shared/index';
import { askerMentionId } from '#platforms/shared/mentions';
import { prepareReplyParts } from '#platforms/shared/reply-text';
import type { AdapterDeps, OutgoingReply, ReplyHandle, SendResult } from '#platforms/types';
import type { ResolvedDingTalkConfig } from './config';
import { DINGTALK_USER_ID_SHAPE, neutraliseDingTalkMentions } from './mentions';
import { type DingTalkOpenApi, parseJson, throttleAwareFetch } from './openapi';

/**
 * One reply part is at most 5000 code points. DingTalk publishes no single limit for robot text/markdown; its robot
 * docs cap a message body at 20000 bytes, and 5000 code points stay within that even at 4 UTF-8 bytes each, while
 * long bubbles remain readable in the clients.
 */
export const DINGTALK_PART_LIMIT_CHARS = 5_000;
/** A sessionWebhook this close to its expiry is not used: the request could arrive after it lapsed. */
const SESSION_WEBHOOK_MARGIN_MS = 60_000;
/**
 * `errcode`s DingTalk answers with HTTP 200 that mean "slow down": 130101 / 410100 robot send too fast,
 * 90018 / 90006 / 90005 API frequency limits, -1 system busy.
 */
const THROTTLE_ERRCODES = new Set([-1, 130101, 410100, 90018, 90006, 90005]);

type DingTalkHandle = Extract<ReplyHandle, { platform: 'dingtalk' }>;

export interface DingTalkSender {
  send(reply: OutgoingReply): Promise<SendResult>;
}

/** Sends over `deps.fetch`; robot-API parts go through `api` (the adapter's token cache). */
export function createDingTalkSender(
  config: ResolvedDingTalkConfig,
  deps: AdapterDeps,
  api: DingTalkOpenApi,
): DingTalkSender {
  const sendDeps: SendDeps = { ...deps, fetch: throttleAwareFetch(deps.fetch) };

  return {
    async send(reply) {
      const handle = reply.handle;
      if (handle.platform !== 'dingtalk') {
        throw new PlatformApiError(`DingTalk adapter cannot send to a ${handle.platform} reply handle`, 0, '');
      }
      // Sanitised, neutralised and bounded; the asker (in `atUserIds`, first part only) is the only one @'d.
      const parts = prepareReplyParts(reply.text, {
        limits: config.replyLimits,
        limit: DINGTALK_PART_LIMIT_CHARS,
        unit: 'chars',
        neutralise: neutraliseDingTalkMentions,
      });
      const asker = askerMentionId(reply.mentionUserId, DINGTALK_USER_ID_SHAPE);
      const messageIds: string[] = [];
      for (const [index, text] of parts.entries()) {
        const part = { text, format: reply.format, mentionUserId: index === 0 ? asker : undefined };
        if (usableSessionWebhook(handle, config, deps.now())) {
          await postSessionWebhook(handle.sessionWebhook!, part, sendDeps);
          messageIds.push(`${reply.idempotencyKey}#${index}`);
        } else {
          messageIds.push(await postGroupMessage(handle, part, config, api));
        }
      }
      return { messageIds };
    },
  };
}

interface Part {
  readonly text: string;
  readonly format: 'text' | 'markdown';
  readonly mentionUserId: string | undefined;
}

function usableSessionWebhook(handle: DingTalkHandle, config: ResolvedDingTalkConfig, now: number): boolean {
  return (
    handle.sessionWebhook !== undefined &&
    handle.sessionWebhookExpiresAt !== undefined &&
    now < handle.sessionWebhookExpiresAt - SESSION_WEBHOOK_MARGIN_MS &&
    isAllowedReplyUrl(handle.sessionWebhook, config.replyUrls)
  );
}

/** Replies in the conversation via the event's sessionWebhook (no token needed). */
async function postSessionWebhook(url: string, part: Part, deps: SendDeps): Promise<void> {
  const at = part.mentionUserId ? { at: { atUserIds: [part.mentionUserId], isAtAll: false } } : {};
  const message =
    part.format === 'markdown'
      ? { msgtype: 'markdown', markdown: { title: titleOf(part.text), text: part.text }, ...at }
      : { msgtype: 'text', text: { content: part.text }, ...at };
  const response = await sendWithRetry(
    () => ({ url, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(message) }),
    deps,
    { isThrottled: (r) => THROTTLE_ERRCODES.has(errcodeOf(r) ?? 0) },
  );
  const errcode = errcodeOf(response);
  if (errcode !== undefined && errcode !== 0) {
    throw new PlatformApiError(`DingTalk sessionWebhook answered errcode ${errcode}`, response.status, response.body);
  }
}

/** Sends through the robot group-message API (cached access token, refreshed once if DingTalk rejects it). */
async function postGroupMessage(
  handle: DingTalkHandle,
  part: Part,
  config: ResolvedDingTalkConfig,
  api: DingTalkOpenApi,
): Promise<string> {
  const response = await api.call('POST', '/v1.0/robot/groupMessages/send', {
    robotCode: handle.robotCode ?? config.robotCode,
    openConversationId: handle.conversationId,
    msgKey: part.format === 'markdown' ? 'sampleMarkdown' : 'sampleText',
    msgParam: JSON.stringify(
      part.format === 'markdown' ? { title: titleOf(part.text), text: part.text } : { content: part.text },
    ),
  });
  const parsed = parseJson(response.body);
  const key = isRecord(parsed) ? parsed.processQueryKey : undefined;
  if (typeof key !== 'string') {
    throw new PlatformApiError(
      'DingTalk groupMessages/send answered without processQueryKey',
      response.status,
      response.body,
    );
  }
  return key;
}

/** Markdown messages need a title (shown in notifications): the first line, shortened. */
function titleOf(text: string): string {
  const firstLine =
    text
      .split('\n', 1)[0]
      ?.replace(/^[#>\s*-]+/, '')
      .trim() ?? '';
  return [...firstLine].slice(0, 20).join('') || 'Reply';
}

function errcodeOf(response: OutboundResponse): number | undefined {
  const parsed = parseJson(response.body);
  return isRecord(parsed) && typeof parsed.errcode === 'number' ? parsed.errcode : undefined;
}
