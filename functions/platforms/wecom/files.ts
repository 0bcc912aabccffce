import { createCipheriv, createDecipheriv } from 'node:crypto';
import { AttachmentError, fetchCapped, messageFor } from '#platforms/shared/download';
import { isRecord } from '#platforms/shared/json-body';
import { isAllowedReplyUrl } from '#platforms/shared/reply-url';
import type { AdapterDeps, DownloadedFile, DownloadOptions, MessageAttachment } from '#platforms/types';
import type { ResolvedWeComConfig } from './config';

/**
 * Files sent to a WeCom AI bot (智能机器人, API mode; docs path/100719). Two shapes:
 * - `msgtype: "file"` with `file.url`: only in a 1:1 chat ("用户单聊中向智能机器人发送本地文件消息");
 * - a message with `quote` of a file (`quote.msgtype: "file"`, `quote.file.url`): "@bot /data …" sent as a quote of
 *   the file, in a group or a 1:1 chat.
 * The URL is valid for 5 minutes and serves the file encrypted with the bot's EncodingAESKey: AES-256-CBC, IV the
 * key's first 16 bytes, PKCS#7 padding to 32 bytes. That scheme and the 5 minutes are the documentation's; neither
 * was checked against a live bot. The callback names no file: the attachment is called `file`, and the skill tells
 * a spreadsheet from a CSV by its bytes.
 */

/** `file.url` lives this long after the callback (documented). */
export const WECOM_FILE_URL_LIFETIME_MS = 5 * 60 * 1000;
const BLOCK = 32;
const UNNAMED = 'file';

function fileUrlOf(value: unknown): string | undefined {
  const url = isRecord(value) && isRecord(value.file) ? value.file.url : undefined;
  return typeof url === 'string' && url !== '' ? url : undefined;
}

/** The file of a `file` message, or of the file a message quotes; undefined when it has none. */
export function wecomFileAttachment(payload: Record<string, unknown>): MessageAttachment | undefined {
  const quote = isRecord(payload.quote) && payload.quote.msgtype === 'file' ? payload.quote : undefined;
  const url = payload.msgtype === 'file' ? fileUrlOf(payload) : fileUrlOf(quote);
  return url === undefined ? undefined : { kind: 'file', name: UNNAMED, ref: url };
}

/**
 * Fetches and decrypts a file. The URL came in an encrypted, signed callback; it is still only fetched over https
 * (or from an origin the deployment lists for reply URLs: the sandbox's emulator), and nothing secret is sent to it.
 * @throws AttachmentError
 */
export async function downloadWeComFile(
  attachment: MessageAttachment,
  options: DownloadOptions,
  context: { readonly config: ResolvedWeComConfig; readonly deps: Pick<AdapterDeps, 'fetch'> },
): Promise<DownloadedFile> {
  const url = URL.canParse(attachment.ref) ? new URL(attachment.ref) : undefined;
  const listed = isAllowedReplyUrl(attachment.ref, context.config.replyUrls);
  const secure = url?.protocol === 'https:' && url.username === '' && url.password === '';
  if (!listed && !secure) throw new AttachmentError('unsupported', messageFor('unsupported', attachment.name));
  // Object storage answers a link past its 5 minutes with 403 "Request has expired".
  const expired = (status: number, body: string) => (status === 403 && /expired/i.test(body) ? 'gone' : undefined);
  const ciphertext = await fetchCapped(
    context.deps.fetch,
    { url: attachment.ref, name: attachment.name, redirect: 'follow' },
    // The padding adds at most one block.
    { ...options, maxBytes: options.maxBytes + BLOCK },
    expired,
  );
  const bytes = decryptWeComFile(context.config.aesKey, ciphertext);
  if (bytes === undefined) {
    throw new AttachmentError('unavailable', 'The file WeCom sent could not be decrypted: share it again.');
  }
  if (bytes.byteLength > options.maxBytes) {
    throw new AttachmentError('too_large', messageFor('too_large', attachment.name));
  }
  return { name: attachment.name, bytes };
}

/** The file's bytes, or undefined when the ciphertext is not whole blocks or its padding is wrong (another key). */
export function decryptWeComFile(key: Buffer, ciphertext: Uint8Array): Uint8Array | undefined {
  if (ciphertext.byteLength === 0 || ciphertext.byteLength % 16 !== 0) return undefined;
  const decipher = createDecipheriv('aes-256-cbc', key, key.subarray(0, 16));
  decipher.setAutoPadding(false);
  const plain = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  const pad = plain.at(-1) ?? 0;
  if (pad < 1 || pad > BLOCK || pad > plain.length) return undefined;
  for (let i = plain.length - pad; i < plain.length; i++) if (plain[i] !== pad) return undefined;
  return plain.subarray(0, plain.length - pad);
}

/** What WeCom serves at a file URL (for the emulator and tests): the bytes padded to 32 and encrypted. */
export function encryptWeComFile(key: Buffer, bytes: Uint8Array): Buffer {
  const pad = BLOCK - (bytes.byteLength % BLOCK);
  const cipher = createCipheriv('aes-256-cbc', key, key.subarray(0, 16));
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(Buffer.concat([bytes, Buffer.alloc(pad, pad)])), cipher.final()]);
}
