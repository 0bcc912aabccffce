import { PlatformApiError } from '#core/errors';
import type { ReplyImage } from '#core/reply-image';
import { type OutboundResponse, sendWithRetry } from '#platforms/shared/send-with-retry';
import type { AdapterDeps } from '#platforms/types';

/**
 * Where an image (or a spoken answer) goes: the reply's channel and, when the reply is threaded, its thread (the
 * parent's `ts`).
 */
export interface SlackImagePlace {
  readonly channel: string;
  readonly threadTs?: string;
}

/**
 * Posts one image into the channel (and thread) as a shared file (`postSlackFile`), titled and described by its alt
 * text.
 * @returns the file id.
 * @throws PlatformApiError when a step is refused or its retries run out.
 */
export function postSlackImage(
  apiBaseUrl: string,
  botToken: string,
  place: SlackImagePlace,
  image: ReplyImage,
  index: number,
  deps: AdapterDeps,
): Promise<string> {
  return postSlackFile(
    apiBaseUrl,
    botToken,
    place,
    { filename: `chart-${index + 1}.png`, bytes: image.data, title: image.alt, altText: image.alt },
    deps,
  );
}

/** One file to share (`postSlackFile`). */
export interface SlackFileUpload {
  readonly filename: string;
  readonly bytes: Uint8Array;
  /** What the file's message shows. */
  readonly title: string;
  /** `alt_txt` (≤ 1,000 characters): images only. */
  readonly altText?: string;
}

/**
 * Shares one file into the channel (and thread) with Slack's external upload, the only upload flow since
 * `files.upload` was retired (docs.slack.dev, files.getUploadURLExternal / files.completeUploadExternal; scope
 * `files:write`):
 * 1. `files.getUploadURLExternal` (form: `filename`, `length`, `alt_txt`) → `upload_url`, `file_id`;
 * 2. POST the raw bytes to `upload_url` (no token: the URL is the credential; HTTP 200 on success);
 * 3. `files.completeUploadExternal` (`files: [{id, title}]`, `channel_id`, `thread_ts`) shares it: the file appears
 *    as its own message.
 * Each call retries 429/5xx (`sendWithRetry`); a throttled HTTP 200 `ratelimited` too. Whether Slack refuses a second
 * completion of one file id (a retry after a lost answer) is not documented [unverified]; the emulator refuses it.
 * @returns the file id.
 * @throws PlatformApiError when a step is refused or its retries run out.
 */
export async function postSlackFile(
  apiBaseUrl: string,
  botToken: string,
  place: SlackImagePlace,
  file: SlackFileUpload,
  deps: AdapterDeps,
): Promise<string> {
  const auth = { authorization: `Bearer ${botToken}` };
  const form = { ...auth, 'content-type': 'application/x-www-form-urlencoded' };
  const isThrottled = (r: OutboundResponse) => slackAnswer(r)?.error === 'ratelimited';
  const ticket = await sendWithRetry(
    () => ({
      url: `${apiBaseUrl}/api/files.getUploadURLExternal`,
      method: 'POST',
      headers: form,
      body: new URLSearchParams({
        filename: file.filename,
        length: String(file.bytes.byteLength),
        ...(file.altText !== undefined ? { alt_txt: file.altText } : {}),
      }).toString(),
    }),
    deps,
    { isThrottled },
  );
  const { upload_url: uploadUrl, file_id: fileId } = slackOk('files.getUploadURLExternal', ticket);
  if (typeof uploadUrl !== 'string' || typeof fileId !== 'string' || !URL.canParse(uploadUrl)) {
    throw new PlatformApiError('Slack files.getUploadURLExternal answered no upload_url/file_id', ticket.status, '');
  }
  if (!isSlackUploadUrl(uploadUrl, apiBaseUrl)) {
    throw new PlatformApiError(
      `Slack upload_url on ${new URL(uploadUrl).origin} is not a Slack host; not posted`,
      0,
      '',
    );
  }
  await sendWithRetry(
    () => ({
      url: uploadUrl,
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: file.bytes,
    }),
    deps,
  ).catch((err: unknown) => {
    // The upload URL's path is its credential: a failure (which is logged) names the origin and status only.
    const { origin, pathname } = new URL(uploadUrl);
    if (!(err instanceof Error) || !err.message.includes(pathname)) throw err;
    const status = err instanceof PlatformApiError ? err.status : 0;
    throw new PlatformApiError(`Slack upload to ${origin} answered ${status}; not posted`, status, '');
  });
  const completed = await sendWithRetry(
    () => ({
      url: `${apiBaseUrl}/api/files.completeUploadExternal`,
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({
        files: [{ id: fileId, title: file.title }],
        channel_id: place.channel,
        ...(place.threadTs ? { thread_ts: place.threadTs } : {}),
      }),
    }),
    deps,
    { isThrottled },
  );
  slackOk('files.completeUploadExternal', completed);
  return fileId;
}

/**
 * Where a file's bytes may go: an https URL on a Slack host (Slack answers `https://files.slack.com/upload/v1/…`), or
 * the configured API origin itself (the sandbox's emulator). Anything else is refused before a byte leaves, so an
 * answer that is not Slack's cannot point the upload at another host.
 */
function isSlackUploadUrl(uploadUrl: string, apiBaseUrl: string): boolean {
  const url = new URL(uploadUrl);
  if (url.origin === new URL(apiBaseUrl).origin) return true;
  return url.protocol === 'https:' && (url.hostname === 'slack.com' || url.hostname.endsWith('.slack.com'));
}

type SlackAnswer = { ok?: unknown; error?: unknown; upload_url?: unknown; file_id?: unknown };

function slackAnswer(response: OutboundResponse): SlackAnswer | undefined {
  try {
    const body: unknown = JSON.parse(response.body);
    return typeof body === 'object' && body !== null ? (body as SlackAnswer) : undefined;
  } catch {
    return undefined;
  }
}

/** The answer when it is `ok: true`; Slack's `error` code otherwise. The body is kept (no token or file in it). */
function slackOk(method: string, response: OutboundResponse): SlackAnswer {
  const answer = slackAnswer(response);
  if (answer?.ok === true) return answer;
  const error = typeof answer?.error === 'string' ? answer.error : 'unexpected response';
  throw new PlatformApiError(`Slack ${method} failed: ${error}`, response.status, response.body);
}
