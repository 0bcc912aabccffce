import { PlatformApiError } from '#core/errors';
import type { ReplyImage } from '#core/reply-image';
import { sendWithRetry } from '#platforms/shared/send-with-retry';
import type { TokenCache } from '#platforms/shared/token-cache';
import type { AdapterDeps, SpokenReply } from '#platforms/types';
import { FEISHU_RATE_LIMITED_CODE, feishuCode, feishuUuid, readMessageId, withTokenRefresh } from './send';

/** The message a chart or a spoken answer replies to, threaded as the reply's text is. */
export interface FeishuMediaPlace {
  readonly messageId: string;
  readonly inThread: boolean;
}

/** What one media reply uploads and then posts. */
interface MediaReply {
  /** `images` or `files`, below `/open-apis/im/v1/`. */
  readonly uploadPath: 'images' | 'files';
  /** A fresh form per attempt (a body is read once); fetch sets the multipart boundary in the content type. */
  readonly form: () => FormData;
  /** The upload answer's key in `data` (`image_key`, `file_key`), which the message's content carries. */
  readonly keyField: 'image_key' | 'file_key';
  readonly msgType: 'image' | 'audio';
  /** Distinguishes this message's `uuid` from the text's parts (`feishuUuid`). */
  readonly uuidPart: string;
}

/**
 * Uploads, then posts the upload as a reply to the member's message (open.feishu.cn, im-v1 image/create or
 * file/create, then message/reply with the text's `reply_in_thread` and a `uuid` of its own, so a repeated send
 * within the hour is dropped by Feishu like the text's parts). Both retry 429/5xx and code 99991400 and refresh a
 * rejected token once (`withTokenRefresh`). A repeated upload only leaves an unused key behind.
 * @returns the new message's id.
 * @throws PlatformApiError when an answer is not what the API documents.
 */
async function postMediaReply(
  apiBaseUrl: string,
  place: FeishuMediaPlace,
  idempotencyKey: string,
  media: MediaReply,
  tokens: TokenCache,
  deps: AdapterDeps,
): Promise<string> {
  const isThrottled = (r: { body: string }) => feishuCode(r.body) === FEISHU_RATE_LIMITED_CODE;
  const uploaded = await withTokenRefresh(tokens, (token) =>
    sendWithRetry(
      () => ({
        url: `${apiBaseUrl}/open-apis/im/v1/${media.uploadPath}`,
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
        body: media.form(),
      }),
      deps,
      { isThrottled },
    ),
  );
  const key = uploadedKey(uploaded.body, media.keyField);
  if (key === undefined) {
    throw new PlatformApiError(
      `Feishu ${media.uploadPath} upload answered no data.${media.keyField}`,
      uploaded.status,
      uploaded.body,
    );
  }
  const body = JSON.stringify({
    msg_type: media.msgType,
    content: JSON.stringify({ [media.keyField]: key }),
    reply_in_thread: place.inThread,
    uuid: feishuUuid(idempotencyKey, media.uuidPart),
  });
  const sent = await withTokenRefresh(tokens, (token) =>
    sendWithRetry(
      () => ({
        url: `${apiBaseUrl}/open-apis/im/v1/messages/${encodeURIComponent(place.messageId)}/reply`,
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json; charset=utf-8' },
        body,
      }),
      deps,
      { isThrottled },
    ),
  );
  return readMessageId(sent);
}

function uploadedKey(body: string, field: MediaReply['keyField']): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  const data = (parsed as { data?: Record<string, unknown> } | null)?.data;
  const key = data?.[field];
  return typeof key === 'string' && key !== '' ? key : undefined;
}

/**
 * Posts one image (a chart) as a reply: `POST /open-apis/im/v1/images`, multipart `image_type=message` and `image`
 * (≤ 10 MB, not empty; scope `im:resource` or `im:resource:upload`) → `data.image_key`; then `msg_type: image` with
 * `uuid` part `image-<n>`.
 */
export function postFeishuImage(
  apiBaseUrl: string,
  place: FeishuMediaPlace,
  idempotencyKey: string,
  image: ReplyImage,
  index: number,
  tokens: TokenCache,
  deps: AdapterDeps,
): Promise<string> {
  return postMediaReply(
    apiBaseUrl,
    place,
    idempotencyKey,
    {
      uploadPath: 'images',
      form: () => {
        const form = new FormData();
        form.append('image_type', 'message');
        form.append('image', new Blob([image.data], { type: image.mediaType }), `chart-${index + 1}.png`);
        return form;
      },
      keyField: 'image_key',
      msgType: 'image',
      uuidPart: `image-${index}`,
    },
    tokens,
    deps,
  );
}

/**
 * Posts a spoken answer as an audio reply: `POST /open-apis/im/v1/files`, multipart `file_type=opus`, `file_name`,
 * `duration` (ms) and `file` (Ogg/Opus, the only audio Feishu's audio messages take; scope `im:resource`) →
 * `data.file_key`; then `msg_type: audio` with `uuid` part `speech`. The field names are from the API pages as quoted
 * by SDKs; not verified against a live tenant.
 */
export function postFeishuAudio(
  apiBaseUrl: string,
  place: FeishuMediaPlace,
  idempotencyKey: string,
  speech: SpokenReply,
  tokens: TokenCache,
  deps: AdapterDeps,
): Promise<string> {
  return postMediaReply(
    apiBaseUrl,
    place,
    idempotencyKey,
    {
      uploadPath: 'files',
      form: () => {
        const form = new FormData();
        form.append('file_type', 'opus');
        form.append('file_name', 'answer.opus');
        form.append('duration', String(Math.max(1, Math.round(speech.durationSeconds * 1000))));
        form.append('file', new Blob([speech.bytes], { type: 'audio/ogg' }), 'answer.opus');
        return form;
      },
      keyField: 'file_key',
      msgType: 'audio',
      uuidPart: 'speech',
    },
    tokens,
    deps,
  );
}
