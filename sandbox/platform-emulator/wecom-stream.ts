import { createHash, randomUUID } from 'node:crypto';
import { computeMsgSignature, decryptMessage, deriveAesKey } from '#platforms/wecom/biz-msg-crypt';
import {
  encryptedReplyEnvelopeSchema,
  MAX_STREAM_IMAGES,
  STREAM_CONTENT_LIMIT_BYTES,
  STREAM_WINDOW_MS,
  type StreamReply,
  streamReplySchema,
} from '#platforms/wecom/stream-protocol';
import { wecomMentions } from './live-mentions';
import type { EmulatedApiResponse, EmulatedImage, EmulatedRequest, EmulatorContext } from './types';
import { storedImage } from './uploaded-image';

/**
 * WeCom's side of a webhook-mode stream (developer.work.weixin.qq.com/document/path/100719, path/101031): once the
 * bot answers a member's message with a passive `stream` reply, WeCom POSTs encrypted, signed "流式消息刷新" callbacks
 * to the bot's URL until an answer carries `finish: true`, for at most 6 minutes from the member's message, and shows
 * each answer's full `content` in place of the last.
 */

/**
 * Time between two refresh callbacks. WeCom does not publish its cadence [U]; bots built on the protocol (LangBot's
 * StreamSessionManager) answer each refresh from a snapshot, consistent with about one poll a second.
 */
export const WECOM_REFRESH_INTERVAL_MS = 1000;
/** "用户跟同一个智能机器人最多同时有三条消息交互中" (path/100719). */
export const WECOM_MAX_STREAMS_PER_MEMBER = 3;

export interface StreamPollerOptions {
  readonly refreshIntervalMs?: number;
  /** Real timers by default; tests step a fake clock. */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Who a message callback came from, read back from the request the emulator built. */
interface MessageOrigin {
  readonly msgid: string;
  readonly aibotid: string;
  readonly chatid?: string;
  readonly chattype: string;
  readonly userid: string;
}

/**
 * Polls the streams the bot starts. At most `WECOM_MAX_STREAMS_PER_MEMBER` per member are polled at once; a further
 * one waits for a slot and is polled then, within its own 6-minute window. What WeCom does with a member's fourth
 * message in flight is not documented beyond the limit [U]: queueing is the reading under which the member still
 * sees every answer; if WeCom dropped the fourth stream instead, that answer would be lost (docs/platforms/wecom.md).
 * A stream already being polled (the ack of a re-delivered callback) is not polled twice.
 */
export function createStreamPoller(options: StreamPollerOptions = {}) {
  const interval = options.refreshIntervalMs ?? WECOM_REFRESH_INTERVAL_MS;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const polling = new Set<string>();
  const perMember = new Map<string, number>();

  async function poll(
    message: EmulatedRequest,
    answer: EmulatedApiResponse,
    ctx: EmulatorContext,
    postRefresh: (payload: object, ctx: EmulatorContext) => EmulatedRequest,
  ): Promise<void> {
    const origin = messageOrigin(message, ctx);
    const first = origin ? openStreamReply(answer, ctx) : undefined;
    if (!origin || !first) return;
    const streamId = first.stream.id;
    if (polling.has(streamId)) return;
    polling.add(streamId);
    const deadline = ctx.now() + STREAM_WINDOW_MS / ctx.clockScale;
    while ((perMember.get(origin.userid) ?? 0) >= WECOM_MAX_STREAMS_PER_MEMBER) {
      if (ctx.now() >= deadline) {
        polling.delete(streamId);
        return;
      }
      await sleep(interval);
    }
    perMember.set(origin.userid, (perMember.get(origin.userid) ?? 0) + 1);
    const view = streamView(origin, streamId, ctx);
    try {
      let finished = view.show(first);
      while (!finished && ctx.now() < deadline) {
        await sleep(interval);
        const refresh = postRefresh(refreshPayload(origin, streamId), ctx);
        const reply = openStreamReply(await ctx.postWebhook(refresh), ctx);
        // An error status or an unusable answer shows nothing new; WeCom asks again at the next tick.
        if (reply && reply.stream.id === streamId) finished = view.show(reply);
      }
      if (!finished) view.abandon();
    } finally {
      polling.delete(streamId);
      perMember.set(origin.userid, (perMember.get(origin.userid) ?? 1) - 1);
    }
  }

  return {
    /** Starts polling in the background when `answer` started a stream; never throws. */
    start(
      message: EmulatedRequest,
      answer: EmulatedApiResponse,
      ctx: EmulatorContext,
      postRefresh: (payload: object, ctx: EmulatorContext) => EmulatedRequest,
    ): Promise<void> {
      return poll(message, answer, ctx, postRefresh).catch(() => undefined);
    },
  };
}

/** What the page shows as the text of a WeCom image (the client's preview of a picture). */
export const WECOM_IMAGE_PREVIEW = '[图片]';

/**
 * A stream answer's `msg_item` images, checked as WeCom states them (aibot-node-sdk `ReplyMsgItem`): only with
 * `finish: true`, at most 10, each `{msgtype: "image", image: {base64, md5}}` whose md5 is that of the decoded bytes.
 * `ok: false` when the answer breaks a rule; the images the page can show (PNG) otherwise.
 */
export function msgItemImages(
  items: unknown,
  finish: boolean,
): { readonly ok: true; readonly images: EmulatedImage[] } | { readonly ok: false; readonly reason: string } {
  if (items === undefined) return { ok: true, images: [] };
  if (!finish) return { ok: false, reason: 'msg_item is only supported with finish=true' };
  if (!Array.isArray(items) || items.length > MAX_STREAM_IMAGES) {
    return { ok: false, reason: `msg_item must be a list of at most ${MAX_STREAM_IMAGES}` };
  }
  const images: EmulatedImage[] = [];
  for (const item of items) {
    const image = isObject(item) && item.msgtype === 'image' && isObject(item.image) ? item.image : undefined;
    if (typeof image?.base64 !== 'string' || typeof image.md5 !== 'string') {
      return { ok: false, reason: 'msg_item entry is not an image with base64 and md5' };
    }
    const bytes = Buffer.from(image.base64, 'base64');
    if (bytes.length === 0 || createHash('md5').update(bytes).digest('hex') !== image.md5) {
      return { ok: false, reason: 'msg_item image md5 does not match its data' };
    }
    const stored = storedImage(bytes, '');
    if (stored) images.push(stored);
  }
  return { ok: true, images };
}

/** The delivery a stream shows: recorded at its first non-empty content, updated on each change. */
function streamView(origin: MessageOrigin, streamId: string, ctx: EmulatorContext) {
  // One bubble per stream: a stream polled again (the ack of a retried callback names the same id) updates it.
  const messageId = `stream-${streamId}`;
  let shown: string | undefined;
  /** A finished stream's images, each recorded once under the text (the client shows them in the same bubble). */
  const showImages = (reply: StreamReply): void => {
    const checked = msgItemImages(reply.stream.msg_item, reply.stream.finish);
    if (!checked.ok) return;
    for (const [index, image] of checked.images.entries()) {
      const imageId = `${messageId}-image-${index}`;
      if (ctx.update('wecom', imageId, {})) continue;
      ctx.record({
        platform: 'wecom',
        chatId: origin.chatid ?? origin.userid,
        text: WECOM_IMAGE_PREVIEW,
        replyTo: origin.msgid,
        messageId: imageId,
        image,
      });
    }
  };
  return {
    /** Shows one answer; returns whether it ended the stream. */
    show(reply: StreamReply): boolean {
      const finished = showText(reply);
      if (finished) showImages(reply);
      return finished;
    },
    /** WeCom stopped polling before `finish`; the client keeps the last text [U: how it marks it]. */
    abandon(): void {
      if (shown !== undefined) ctx.update('wecom', messageId, { stream: 'failed' });
    },
  };

  function showText(reply: StreamReply): boolean {
    const { content, finish } = reply.stream;
    if (shown === undefined && content !== '') {
      if (ctx.update('wecom', messageId, { text: content, stream: finish ? 'finished' : 'streaming' })) {
        shown = content;
        return finish;
      }
      ctx.record({
        platform: 'wecom',
        chatId: origin.chatid ?? origin.userid,
        text: content,
        replyTo: origin.msgid,
        messageId,
        mentions: wecomMentions(content, undefined),
        stream: finish ? 'finished' : 'streaming',
      });
      shown = content;
      return finish;
    }
    if (shown !== undefined && content !== shown) {
      ctx.update('wecom', messageId, { text: content });
      shown = content;
    }
    if (finish && shown !== undefined) ctx.update('wecom', messageId, { stream: 'finished' });
    return finish;
  }
}

/** The decrypted text message callback this emulator built, or undefined for anything else. */
function messageOrigin(request: EmulatedRequest, ctx: EmulatorContext): MessageOrigin | undefined {
  const payload = decryptJson(parseJson(request.body.toString('utf8')), ctx, false);
  const from = payload?.from;
  if (!payload || typeof from !== 'object' || from === null) return undefined;
  const userid = (from as Record<string, unknown>).userid;
  const { msgid, aibotid, chatid, chattype } = payload;
  if (typeof msgid !== 'string' || typeof aibotid !== 'string' || typeof chattype !== 'string') return undefined;
  if (typeof userid !== 'string' || payload.msgtype === 'stream' || payload.msgtype === 'event') return undefined;
  return { msgid, aibotid, chattype, userid, ...(typeof chatid === 'string' ? { chatid } : {}) };
}

/**
 * The bot's passive `stream` reply, checked as WeCom checks it: 200, the JSON envelope, a valid `msgsignature`, a
 * ciphertext that decrypts under the bot's key, content within 20480 bytes (path/101031), and `msg_item` images only
 * with `finish`, at most 10, md5 matching (`msgItemImages`). What WeCom does with an answer failing these is not
 * documented [U]; the emulator treats it as no answer.
 */
function openStreamReply(response: EmulatedApiResponse, ctx: EmulatorContext): StreamReply | undefined {
  if (response.statusCode !== 200) return undefined;
  const payload = decryptJson(parseJson(response.body), ctx, true);
  const reply = streamReplySchema.safeParse(payload);
  if (!reply.success) return undefined;
  if (Buffer.byteLength(reply.data.stream.content, 'utf8') > STREAM_CONTENT_LIMIT_BYTES) return undefined;
  if (!msgItemImages(reply.data.stream.msg_item, reply.data.stream.finish).ok) return undefined;
  return reply.data;
}

/** Decrypts `{"encrypt"}` (a callback) or the signed reply envelope; undefined when anything does not check out. */
function decryptJson(
  body: unknown,
  ctx: EmulatorContext,
  signedEnvelope: boolean,
): Record<string, unknown> | undefined {
  const { token, encodingAesKey } = ctx.credentials.wecom;
  let encrypt: string;
  if (signedEnvelope) {
    const envelope = encryptedReplyEnvelopeSchema.safeParse(body);
    if (!envelope.success) return undefined;
    const { msgsignature, timestamp, nonce } = envelope.data;
    encrypt = envelope.data.encrypt;
    if (computeMsgSignature(token, String(timestamp), nonce, encrypt) !== msgsignature) return undefined;
  } else {
    const candidate = isObject(body) ? body.encrypt : undefined;
    if (typeof candidate !== 'string') return undefined;
    encrypt = candidate;
  }
  try {
    const parsed = parseJson(decryptMessage(deriveAesKey(encodingAesKey, 'emulator key'), encrypt, ''));
    return isObject(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function refreshPayload(origin: MessageOrigin, streamId: string): Record<string, unknown> {
  return {
    msgid: randomUUID().replace(/-/g, ''),
    aibotid: origin.aibotid,
    ...(origin.chatid === undefined ? {} : { chatid: origin.chatid }),
    chattype: origin.chattype,
    from: { userid: origin.userid },
    msgtype: 'stream',
    stream: { id: streamId },
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
