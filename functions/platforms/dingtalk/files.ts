import { PlatformApiError } from '#core/errors';
import { AttachmentError, cleanFileName, fetchCapped, messageFor } from '#platforms/shared/download';
import { isRecord } from '#platforms/shared/json-body';
import type { AdapterDeps, DownloadedFile, DownloadOptions, MessageAttachment } from '#platforms/types';
import * as z from '#shared/zod';
import type { ResolvedDingTalkConfig } from './config';
import type { DingTalkOpenApi } from './openapi';

/**
 * Files sent to a DingTalk robot. An enterprise robot receives `msgtype: "file"` (`content` `{downloadCode,
 * fileName}`) only in a 1:1 chat: in a group it receives only messages that @-mention it, and a file message cannot.
 * The file is fetched in two steps: `POST /v1.0/robot/messageFiles/download` with `{downloadCode, robotCode}` and the
 * access token answers a temporary `downloadUrl`, which is then read without credentials. A voice message's audio is
 * fetched the same way (its `downloadCode`). A reply that quotes a file
 * (`text.repliedMsg`) is not parsed: that shape is not documented where it could be checked.
 */

const refSchema = z.object({ c: z.string().check(z.minLength(1)), r: z.string().check(z.minLength(1)) });

/** The attachment of a robot `file` message, or undefined when its `content` names no download code. */
export function dingtalkFileAttachment(
  body: Record<string, unknown>,
  robotCode: string,
): MessageAttachment | undefined {
  const download = downloadOf(body, robotCode);
  if (!download) return undefined;
  const name = typeof download.content.fileName === 'string' ? download.content.fileName : undefined;
  return { kind: 'file', name: cleanFileName(name), ref: download.ref };
}

/**
 * The audio of a robot voice message (`msgtype: "audio"`, `content` `{duration, downloadCode, recognition}`) that
 * carries no recognition text: the worker downloads it like a file and transcribes it itself (docs/VOICE.md).
 * Undefined when `content` names no download code.
 */
export function dingtalkAudioAttachment(
  body: Record<string, unknown>,
  robotCode: string,
): MessageAttachment | undefined {
  const download = downloadOf(body, robotCode);
  return download && { kind: 'audio', name: 'voice message', ref: download.ref };
}

/** A robot message's `content` and the attachment ref of its download code; undefined when it names none. */
function downloadOf(
  body: Record<string, unknown>,
  robotCode: string,
): { readonly content: Record<string, unknown>; readonly ref: string } | undefined {
  const content = isRecord(body.content) ? body.content : undefined;
  const code = content?.downloadCode;
  if (!content || typeof code !== 'string' || code === '') return undefined;
  return { content, ref: JSON.stringify({ c: code, r: robotCode }) };
}

const answerSchema = z.object({ downloadUrl: z.string().check(z.minLength(1)) });

/** @throws AttachmentError */
export async function downloadDingTalkFile(
  attachment: MessageAttachment,
  options: DownloadOptions,
  context: { readonly config: ResolvedDingTalkConfig; readonly api: DingTalkOpenApi; readonly deps: AdapterDeps },
): Promise<DownloadedFile> {
  const ref = refSchema.safeParse(parseJson(attachment.ref));
  if (!ref.success) throw new AttachmentError('unsupported', messageFor('unsupported', attachment.name));
  let answer: string;
  try {
    const response = await context.api.call(
      'POST',
      '/v1.0/robot/messageFiles/download',
      { downloadCode: ref.data.c, robotCode: ref.data.r },
      { maxAttempts: 2 },
    );
    answer = response.body;
  } catch (cause) {
    const status = cause instanceof PlatformApiError ? cause.status : 0;
    // 400 names a download code DingTalk no longer knows (expired, or another robot's); 403 a missing permission.
    const code =
      status === 401 || status === 403 ? 'forbidden' : status === 400 || status === 404 ? 'gone' : 'unavailable';
    throw new AttachmentError(code, messageFor(code, attachment.name), { cause });
  }
  const parsed = answerSchema.safeParse(parseJson(answer));
  const url = parsed.success && URL.canParse(parsed.data.downloadUrl) ? new URL(parsed.data.downloadUrl) : undefined;
  // The temporary link is DingTalk's storage (https); the configured API's origin only in the sandbox and tests.
  const allowed =
    url !== undefined && (url.protocol === 'https:' || url.origin === new URL(context.config.apiBaseUrl).origin);
  if (url === undefined || !allowed || url.username !== '' || url.password !== '') {
    throw new AttachmentError('unavailable', messageFor('unavailable', attachment.name));
  }
  // Object storage answers a link past its life with 403 "Request has expired": the file must be shared again.
  const expired = (status: number, body: string) => (status === 403 && /expired/i.test(body) ? 'gone' : undefined);
  const bytes = await fetchCapped(
    context.deps.fetch,
    { url: url.href, name: attachment.name, redirect: 'follow' },
    options,
    expired,
  );
  return { name: attachment.name, bytes };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
