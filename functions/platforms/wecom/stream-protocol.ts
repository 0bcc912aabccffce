import { createHash, randomBytes } from 'node:crypto';
import type { ImageDeliveryFailure, ReplyImage } from '#core/reply-image';
import type { HttpResponse } from '#platforms/types';
import * as z from '#shared/zod';
import { computeMsgSignature, encryptMessage } from './biz-msg-crypt';

/**
 * WeCom AI-bot streaming in webhook (HTTP callback) mode, a pull model (developer.work.weixin.qq.com/document/path/
 * 100719 "接收消息" and path/101031 "被动回复消息"):
 * - the bot answers a message callback with an encrypted passive reply `{"msgtype":"stream","stream":{"id",
 *   "finish":false,"content"}}`;
 * - until a reply carries `finish: true`, WeCom keeps POSTing "流式消息刷新" callbacks (`msgtype: "stream"`,
 *   `stream.id`) to the same URL, "从用户发消息开始最多等待6min";
 * - each refresh is answered with the same passive reply shape holding the CURRENT FULL text ("第一次回复内容为"1"，
 *   第二次回复"123"，则此时消息展示内容"123"");
 * - `stream.content` is at most 20480 UTF-8 bytes and may be markdown;
 * - images go in the FINAL answer only: `stream.msg_item: [{msgtype: "image", image: {base64, md5}}]`, at most 10,
 *   "目前仅当 finish=true 时支持设置", `md5` of the raw file, JPG or PNG (WecomTeam/aibot-node-sdk `src/types/api.ts`
 *   `ReplyMsgItem`/`StreamReplyBody`, the same body both modes use).
 */

/** How long WeCom polls a stream, measured from the member's message (path/100719). */
export const STREAM_WINDOW_MS = 6 * 60_000;
/** `stream.content` limit in UTF-8 bytes (path/101031). */
export const STREAM_CONTENT_LIMIT_BYTES = 20_480;
/**
 * Hex characters of sha256(event id) used as `stream.id`. The doc sets no length limit for the id [U]; 32 hex
 * characters (128 bits) stay short and collision-free, and use only characters any id field accepts.
 */
const STREAM_ID_HEX_CHARS = 32;

/**
 * The `stream.id` of the reply to this event: a pure function of the event id, so the webhook (which starts the
 * stream in its ack, also on WeCom's re-delivery of the callback) and every worker attempt name the same stream.
 */
export function wecomStreamId(eventId: string): string {
  return createHash('sha256').update(eventId, 'utf8').digest('hex').slice(0, STREAM_ID_HEX_CHARS);
}

/** A decrypted refresh callback; only what GroupGate reads (the doc's full shape adds msgid, aibotid, chat, from). */
export const streamRefreshSchema = z.object({
  msgtype: z.literal('stream'),
  stream: z.object({ id: z.string().check(z.minLength(1), z.maxLength(256)) }),
});

/** Most `msg_item` entries one finished stream carries. */
export const MAX_STREAM_IMAGES = 10;
/**
 * Most base64 characters of all images one finished stream carries. Not WeCom's limit (10 MB per image) but ours: the
 * images travel in a snapshot row (DynamoDB: 400 KB per item) or a relay frame (SQS: 256 KiB per message) beside up
 * to 20480 bytes of content. Two skill images at their cap (18 KiB, 24 KiB as base64) use a quarter of it.
 */
export const MAX_STREAM_IMAGES_BASE64_CHARS = 200 * 1024;

/** One `msg_item` image: the file as base64 and the hex md5 of its raw bytes. */
export const streamImageSchema = z.object({
  base64: z.string().check(z.minLength(1), z.regex(/^[A-Za-z0-9+/]+={0,2}$/)),
  md5: z.string().check(z.regex(/^[0-9a-f]{32}$/)),
});
export type StreamImage = z.infer<typeof streamImageSchema>;

/** A finished stream's images, checked against the caps above (the schema of what is stored or relayed). */
export const streamImagesSchema = z.array(streamImageSchema).check(
  z.maxLength(MAX_STREAM_IMAGES),
  z.refine((images) => base64Chars(images) <= MAX_STREAM_IMAGES_BASE64_CHARS, { error: 'images too large' }),
);

const msgItemSchema = z.object({ msgtype: z.literal('image'), image: streamImageSchema });

/** The decrypted passive reply to a message or refresh callback. */
export const streamReplySchema = z.object({
  msgtype: z.literal('stream'),
  stream: z.object({
    id: z.string().check(z.minLength(1)),
    finish: z.boolean(),
    content: z.string(),
    msg_item: z.optional(z.array(msgItemSchema)),
  }),
});
export type StreamReply = z.infer<typeof streamReplySchema>;

function base64Chars(images: readonly StreamImage[]): number {
  return images.reduce((sum, image) => sum + image.base64.length, 0);
}

/**
 * A reply's images as a finished stream carries them, in order, within `MAX_STREAM_IMAGES` and
 * `MAX_STREAM_IMAGES_BASE64_CHARS`; each one left out is reported (the text goes out regardless).
 */
export function streamImages(images: readonly ReplyImage[] | undefined): {
  readonly images: StreamImage[];
  readonly failures: ImageDeliveryFailure[];
} {
  const kept: StreamImage[] = [];
  const failures: ImageDeliveryFailure[] = [];
  for (const [index, image] of (images ?? []).entries()) {
    const base64 = Buffer.from(image.data).toString('base64');
    if (kept.length >= MAX_STREAM_IMAGES) {
      failures.push({ index, reason: `WeCom stream takes at most ${MAX_STREAM_IMAGES} images` });
    } else if (base64Chars(kept) + base64.length > MAX_STREAM_IMAGES_BASE64_CHARS) {
      failures.push({ index, reason: 'WeCom stream images over the size GroupGate relays' });
    } else {
      kept.push({ base64, md5: createHash('md5').update(image.data).digest('hex') });
    }
  }
  return { images: kept, failures };
}

/** The body WeCom's passive replies travel in (the JSON variant of WXBizMsgCrypt's encrypted reply). */
export const encryptedReplyEnvelopeSchema = z.object({
  encrypt: z.string().check(z.minLength(1)),
  msgsignature: z.string().check(z.minLength(1)),
  timestamp: z.union([z.int(), z.string().check(z.regex(/^\d+$/))]),
  nonce: z.string().check(z.minLength(1)),
});

/** A stream answer; `images` become its `msg_item` only when it finishes the stream (WeCom refuses them before). */
export function streamReply(
  id: string,
  finish: boolean,
  content: string,
  images: readonly StreamImage[] = [],
): StreamReply {
  const items = finish && images.length > 0 ? { msg_item: images.map(msgItem) } : {};
  return { msgtype: 'stream', stream: { id, finish, content, ...items } };
}

export function msgItem(image: StreamImage): { msgtype: 'image'; image: StreamImage } {
  return { msgtype: 'image', image: { base64: image.base64, md5: image.md5 } };
}

export interface PassiveReplyKeys {
  readonly token: string;
  readonly aesKey: Buffer;
  readonly receiveId: string;
}

/**
 * Encrypts and signs a passive reply as the HTTP answer to a callback: `{"encrypt","msgsignature","timestamp",
 * "nonce"}` with `msgsignature = sha1(sorted(token, timestamp, nonce, encrypt))` — the callback's own scheme run
 * the other way (path/101033 [U: read from WXBizJsonMsgCrypt ports; the official page was not in the index]).
 * @param now epoch ms; the envelope's timestamp is in seconds.
 */
export function encryptedPassiveReply(payload: StreamReply, keys: PassiveReplyKeys, now: number): HttpResponse {
  const encrypt = encryptMessage(keys.aesKey, JSON.stringify(payload), keys.receiveId);
  const timestamp = Math.floor(now / 1000);
  const nonce = randomBytes(8).toString('hex');
  const msgsignature = computeMsgSignature(keys.token, String(timestamp), nonce, encrypt);
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify({ encrypt, msgsignature, timestamp, nonce }),
  };
}
