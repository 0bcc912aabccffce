import { PlatformApiError } from '#core/errors';
import { AttachmentError, cleanFileName, fetchCapped, messageFor } from '#platforms/shared/download';
import { sendWithRetry } from '#platforms/shared/send-with-retry';
import type { TokenCache } from '#platforms/shared/token-cache';
import type {
  AdapterDeps,
  AttachmentErrorCode,
  DownloadedFile,
  DownloadOptions,
  MessageAttachment,
} from '#platforms/types';
import * as z from '#shared/zod';
import { feishuCode, TOKEN_REJECTED_CODES, withTokenRefresh } from './send';

/**
 * Files shared in a Feishu/Lark chat. Two shapes reach the bot:
 * - a `file` message (`content` `{"file_key","file_name"}`): in a 1:1 chat always; in a group only with the
 *   "read all group messages" permission, and never with an @-mention (a file message has no text), so it passes the
 *   trigger rules only in a 1:1 chat, where it has no question either;
 * - a text message that replies to one (`parent_id`): "@bot /data <question>" sent as a reply to the file, in a group
 *   or a 1:1 chat. Its file is found at download: `GET /open-apis/im/v1/messages/{parent_id}`; a parent that is not a
 *   file message is `no_file`, and the question is answered as if nothing were attached.
 * Both are downloaded with `GET /open-apis/im/v1/messages/{message_id}/resources/{file_key}?type=file` and the
 * app's `tenant_access_token` (permission `im:message` or `im:message:readonly`; the bot must be in the chat; at
 * most 100 MB).
 */

const refSchema = z.object({ m: z.string().check(z.minLength(1)), k: z.optional(z.string().check(z.minLength(1))) });
type FeishuFileRef = z.output<typeof refSchema>;

const fileContentSchema = z.object({
  file_key: z.string().check(z.minLength(1)),
  file_name: z.optional(z.string()),
});

/** The attachment of a `file` message, or undefined when its content is not a file's. */
export function feishuFileAttachment(messageId: string, content: string): MessageAttachment | undefined {
  const parsed = fileContentSchema.safeParse(parseJson(content));
  if (!parsed.success) return undefined;
  const ref: FeishuFileRef = { m: messageId, k: parsed.data.file_key };
  return { kind: 'file', name: cleanFileName(parsed.data.file_name), ref: JSON.stringify(ref) };
}

const audioContentSchema = z.object({
  file_key: z.string().check(z.minLength(1)),
  duration: z.optional(z.number()),
});

/**
 * The audio of an `audio` (voice) message, content `{"file_key","duration"}` (duration in ms), or undefined when its
 * content is not one. Downloaded like a file (the resource API's `type=file`); the worker transcribes it.
 */
export function feishuAudioAttachment(messageId: string, content: string): MessageAttachment | undefined {
  const parsed = audioContentSchema.safeParse(parseJson(content));
  if (!parsed.success) return undefined;
  const ref: FeishuFileRef = { m: messageId, k: parsed.data.file_key };
  return { kind: 'audio', name: 'voice message', ref: JSON.stringify(ref) };
}

/** The message a reply answers, as an attachment that may hold a file (found at download). */
export function feishuRepliedAttachment(parentId: string): MessageAttachment {
  const ref: FeishuFileRef = { m: parentId };
  return { kind: 'file', name: 'the file replied to', ref: JSON.stringify(ref), quoted: true };
}

/**
 * Codes from Feishu's error tables: 234043 is documented for merge-forward and card messages; the others (bot not in
 * the chat, message recalled or deleted, file not in the message) are read from the error-code lists and are
 * unverified against a live tenant.
 */
const FEISHU_FILE_ERRORS: ReadonlyMap<number, AttachmentErrorCode> = new Map([
  [230002, 'forbidden'],
  [234004, 'forbidden'],
  [230011, 'gone'],
  [230110, 'gone'],
  [234003, 'gone'],
  [234043, 'unsupported'],
]);

const messageSchema = z.object({
  data: z.object({
    items: z.array(z.object({ msg_type: z.string(), body: z.object({ content: z.string() }) })),
  }),
});

export interface FeishuFileContext {
  readonly apiBaseUrl: string;
  readonly tokens: TokenCache;
  readonly deps: AdapterDeps;
}

/** @throws AttachmentError */
export async function downloadFeishuFile(
  attachment: MessageAttachment,
  options: DownloadOptions,
  context: FeishuFileContext,
): Promise<DownloadedFile> {
  const parsed = refSchema.safeParse(parseJson(attachment.ref));
  if (!parsed.success) throw new AttachmentError('unsupported', messageFor('unsupported', attachment.name));
  const { m: messageId } = parsed.data;
  const file =
    parsed.data.k === undefined ? await repliedFile(messageId, context) : { key: parsed.data.k, name: attachment.name };
  const url = `${context.apiBaseUrl}/open-apis/im/v1/messages/${encodeURIComponent(messageId)}/resources/${encodeURIComponent(file.key)}?type=file`;
  const attempt = async (token: string): Promise<{ bytes?: Uint8Array; tokenRejected: boolean }> => {
    let tokenRejected = false;
    const classify = (_status: number, body: string): AttachmentErrorCode | undefined => {
      const code = feishuCode(body) ?? 0;
      tokenRejected = TOKEN_REJECTED_CODES.has(code);
      return FEISHU_FILE_ERRORS.get(code);
    };
    try {
      const bytes = await fetchCapped(
        context.deps.fetch,
        { url, headers: { authorization: `Bearer ${token}` }, name: file.name },
        options,
        classify,
      );
      return { bytes, tokenRejected };
    } catch (error) {
      if (tokenRejected) return { tokenRejected };
      throw error;
    }
  };
  const token = await tokenOf(context.tokens);
  let result = await attempt(token);
  if (result.tokenRejected) {
    context.tokens.invalidate(token);
    result = await attempt(await tokenOf(context.tokens));
  }
  if (result.bytes === undefined) throw new AttachmentError('forbidden', messageFor('forbidden', file.name));
  return { name: file.name, bytes: result.bytes };
}

async function tokenOf(tokens: TokenCache): Promise<string> {
  try {
    return await tokens.get();
  } catch (cause) {
    throw new AttachmentError('unavailable', 'Feishu did not let the bot sign in just now; try again.', { cause });
  }
}

/** The file of the message `messageId` (a reply's parent): its key and name, or `no_file`. */
async function repliedFile(messageId: string, context: FeishuFileContext): Promise<{ key: string; name: string }> {
  const url = `${context.apiBaseUrl}/open-apis/im/v1/messages/${encodeURIComponent(messageId)}`;
  let body: string;
  try {
    const response = await withTokenRefresh(context.tokens, (token) =>
      sendWithRetry(() => ({ url, method: 'GET', headers: { authorization: `Bearer ${token}` } }), context.deps, {
        policy: { maxAttempts: 2 },
      }),
    );
    body = response.body;
  } catch (cause) {
    const code = cause instanceof PlatformApiError ? FEISHU_FILE_ERRORS.get(feishuCode(cause.body) ?? 0) : undefined;
    const resolved = code ?? 'unavailable';
    throw new AttachmentError(resolved, messageFor(resolved, 'the file replied to'), { cause });
  }
  const parsed = messageSchema.safeParse(parseJson(body));
  const item = parsed.success ? parsed.data.data.items[0] : undefined;
  if (item?.msg_type !== 'file') throw new AttachmentError('no_file', messageFor('no_file', 'the message'));
  const content = fileContentSchema.safeParse(parseJson(item.body.content));
  if (!content.success) throw new AttachmentError('no_file', messageFor('no_file', 'the message'));
  return { key: content.data.file_key, name: cleanFileName(content.data.file_name) };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
