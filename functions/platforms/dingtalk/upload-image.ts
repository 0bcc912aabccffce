import { PlatformApiError } from '#core/errors';
import type { ReplyImage } from '#core/reply-image';
import {
  isRecord,
  type OutboundResponse,
  sendWithRetry,
  type TokenCache,
  withTokenRetry,
} from '#platforms/shared/index';
import type { AdapterDeps, ReplyHandle } from '#platforms/types';
import { DINGTALK_API_BASE_URL, type ResolvedDingTalkConfig } from './config';
import { type DingTalkOpenApi, parseJson } from './openapi';

/** The legacy API host (`oapi`), where media are uploaded; the new-style API has no upload for robot media. */
export const DINGTALK_OAPI_BASE_URL = 'https://oapi.dingtalk.com';

/**
 * `errcode`s of the legacy API that mean the access token was refused: 40014 invalid, 42001 expired [U: the codes
 * DingTalk lists for `access_token`; not seen live]. The token is dropped and the upload made once more.
 */
const REJECTED_TOKEN_ERRCODES = new Set([40014, 42001]);
/** `errcode`s that mean "slow down" (HTTP 200): -1 system busy, 90018 / 90006 / 90005 API frequency limits. */
const THROTTLE_ERRCODES = new Set([-1, 90018, 90006, 90005]);

export type DingTalkHandle = Extract<ReplyHandle, { platform: 'dingtalk' }>;

export interface DingTalkMediaContext {
  readonly config: ResolvedDingTalkConfig;
  /** The reply's OpenAPI client (its counting fetch in a streamed session). */
  readonly api: DingTalkOpenApi;
  /** The adapter's token: `/v1.0/oauth2/accessToken`'s, which the legacy API takes as `access_token` too [U]. */
  readonly tokens: TokenCache;
  /** The reply's fetch (counted in a streamed session). */
  readonly deps: AdapterDeps;
}

/**
 * Posts one image (a chart) into the reply's conversation:
 * 1. `POST {oapi}/media/upload?access_token=…&type=image`, multipart field `media` (the PNG) → `{errcode: 0,
 *    media_id}`; an unused upload only leaves a media id behind (DingTalk keeps them a few days [U]);
 * 2. the robot message API with `msgKey: sampleImageMsg` and `msgParam` `{"photoURL": media_id}` (a media id in
 *    `photoURL` is community practice, not in DingTalk's reference [U]): in a group `/v1.0/robot/groupMessages/send`,
 *    in a 1:1 chat `/v1.0/robot/oToMessages/batchSend` to the sender's staff id.
 * DingTalk's robot messages cannot quote a message, so the image follows the text in the conversation, unlinked.
 * @returns the message's `processQueryKey`.
 * @throws PlatformApiError when a step is refused or its retries run out (never with the token: it is in the query,
 *   and errors name the origin and path only).
 */
export async function postDingTalkImage(
  handle: DingTalkHandle,
  image: ReplyImage,
  index: number,
  context: DingTalkMediaContext,
): Promise<string> {
  requireDirectRecipient(handle, 'image');
  const mediaId = await uploadDingTalkMedia(
    { type: 'image', bytes: image.data, mediaType: image.mediaType, fileName: `chart-${index + 1}.png` },
    context,
  );
  return sendDingTalkRobotMessage(handle, 'sampleImageMsg', { photoURL: mediaId }, context);
}

/** A robot message without text needs, in a 1:1 chat, the member's staff id (the batchSend address). */
export function requireDirectRecipient(handle: DingTalkHandle, what: string): void {
  if (handle.conversationType === 'direct' && !handle.senderStaffId) {
    throw new PlatformApiError(
      `DingTalk 1:1 ${what} needs the sender’s staff id (none in the event); not posted`,
      0,
      '',
    );
  }
}

/**
 * The robot message API with one message: in a group `/v1.0/robot/groupMessages/send`, in a 1:1 chat
 * `/v1.0/robot/oToMessages/batchSend` to the sender's staff id (`requireDirectRecipient` first).
 * @returns the message's `processQueryKey`.
 * @throws PlatformApiError when it is refused or answers no `processQueryKey`.
 */
export async function sendDingTalkRobotMessage(
  handle: DingTalkHandle,
  msgKey: string,
  msgParam: Readonly<Record<string, string>>,
  context: Pick<DingTalkMediaContext, 'config' | 'api'>,
): Promise<string> {
  const robotCode = handle.robotCode ?? context.config.robotCode;
  const message = { robotCode, msgKey, msgParam: JSON.stringify(msgParam) };
  const response =
    handle.conversationType === 'direct'
      ? await context.api.call('POST', '/v1.0/robot/oToMessages/batchSend', {
          ...message,
          userIds: [handle.senderStaffId],
        })
      : await context.api.call('POST', '/v1.0/robot/groupMessages/send', {
          ...message,
          openConversationId: handle.conversationId,
        });
  const parsed = parseJson(response.body);
  const key = isRecord(parsed) ? parsed.processQueryKey : undefined;
  if (typeof key !== 'string') {
    throw new PlatformApiError(`DingTalk ${msgKey} message answered without processQueryKey`, response.status, '');
  }
  return key;
}

/**
 * Where `media/upload` goes: the legacy host beside DingTalk's own API; any other configured API (the sandbox's
 * emulator, a test server) serves both.
 */
export function dingtalkOapiBaseUrl(apiBaseUrl: string): string {
  return apiBaseUrl === DINGTALK_API_BASE_URL ? DINGTALK_OAPI_BASE_URL : apiBaseUrl;
}

/** One file for `media/upload`. */
export interface DingTalkMediaUpload {
  /** The legacy API's media `type`. */
  readonly type: 'image' | 'voice';
  readonly bytes: Uint8Array;
  readonly mediaType: string;
  readonly fileName: string;
}

/**
 * `POST {oapi}/media/upload?access_token=…&type=…`, multipart field `media` → `{errcode: 0, media_id}`; a rejected
 * token is dropped and the upload made once more; throttling (HTTP 429/5xx, or an `errcode` that means "slow down")
 * is retried.
 * @returns the `media_id`.
 * @throws PlatformApiError when it is refused (the `errcode` and `errmsg` named, never the token).
 */
export async function uploadDingTalkMedia(media: DingTalkMediaUpload, context: DingTalkMediaContext): Promise<string> {
  const url = `${dingtalkOapiBaseUrl(context.config.apiBaseUrl)}/media/upload`;
  const attempt = (token: string): Promise<OutboundResponse> =>
    sendWithRetry(
      () => {
        // A fresh form per attempt (a body is read once); fetch sets the multipart boundary.
        const form = new FormData();
        form.append('media', new Blob([media.bytes], { type: media.mediaType }), media.fileName);
        return {
          url: `${url}?${new URLSearchParams({ access_token: token, type: media.type })}`,
          method: 'POST',
          headers: {},
          body: form,
        };
      },
      context.deps,
      { isThrottled: (r) => THROTTLE_ERRCODES.has(errcodeOf(r.body) ?? 0) },
    );
  const response = await withTokenRetry(context.tokens, attempt, (r) =>
    REJECTED_TOKEN_ERRCODES.has(errcodeOf(r.body) ?? 0),
  );
  const parsed = parseJson(response.body);
  const errcode = errcodeOf(response.body);
  const mediaId = isRecord(parsed) ? parsed.media_id : undefined;
  if (errcode !== 0) {
    const errmsg = isRecord(parsed) && typeof parsed.errmsg === 'string' ? `: ${parsed.errmsg}` : '';
    throw new PlatformApiError(
      `DingTalk media/upload answered errcode ${errcode ?? 'none'}${errmsg}`,
      response.status,
      response.body,
    );
  }
  if (typeof mediaId !== 'string' || mediaId === '') {
    throw new PlatformApiError('DingTalk media/upload answered no media_id', response.status, response.body);
  }
  return mediaId;
}

function errcodeOf(body: string): number | undefined {
  const parsed = parseJson(body);
  return isRecord(parsed) && typeof parsed.errcode === 'number' ? parsed.errcode : undefined;
}
