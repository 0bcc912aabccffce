import { createHash } from 'node:crypto';
import { PlatformApiError } from '#core/errors';
import type { ReplyImage } from '#core/reply-image';
import { withImages } from '#platforms/shared/reply-images';
import type { SurfaceOps } from '#platforms/shared/streaming-session';
import type { OutgoingReply, ReplyTarget, SendResult } from '#platforms/types';
import type { AwsJsonClient } from '#shared/aws-json-client';
import * as z from '#shared/zod';
import type { ResolvedWeComConfig } from './config';
import { STREAM_MIN_INTERVAL_MS, streamContent } from './stream';
import { type StreamImage, streamImages, streamImagesSchema, wecomStreamId } from './stream-protocol';

/**
 * The reply relay of WeCom's long-connection mode (issue 18). WeCom takes a long-connection bot's replies only on the
 * socket its callback came on (`aibot_respond_msg` on the callback's `req_id`), and the connector task holds that
 * socket, so the worker cannot answer by HTTP: it writes each reply frame to the relay queue (SQS FIFO) and the
 * connector holding the bot's lease sends it (`functions/connector/wecom-relay.ts`).
 *
 * Each frame is the reply's whole text so far (a snapshot, never a delta) on a stream whose id is derived from the
 * event id, so a frame sent twice, or a redelivered worker's frames, overwrite the same message instead of adding one.
 * - `MessageGroupId` = the stream id: one reply's frames reach the socket in the order the worker wrote them, and a
 *   frame waits for the previous one's answer (the FIFO queue hands out nothing more of a group while one is in flight).
 * - `MessageDeduplicationId`: the final frame's is `<stream id>:final`, so a redelivered worker that settles the same
 *   reply again within SQS's 5-minute window is dropped by the queue; an interim frame's is a hash of its content, so a
 *   retried SendMessage is dropped and a changed text is not.
 */
export const relayFrameSchema = z
  .object({
    v: z.literal(1),
    /** The callback's `req_id`: `aibot_respond_msg` must carry it. */
    reqId: z.string().check(z.minLength(1), z.maxLength(256)),
    /** Where `aibot_send_msg` goes when the `req_id` is no longer accepted (the group, or the member of a direct chat). */
    chatId: z.string().check(z.minLength(1), z.maxLength(256)),
    streamId: z.string().check(z.minLength(1), z.maxLength(256)),
    /** The whole text so far, already sanitised and cut to 20480 UTF-8 bytes. */
    content: z.string().check(z.maxLength(20_480)),
    finish: z.boolean(),
    /**
     * A final frame's images, sent as the finish's `msg_item`; refused on an interim frame (WeCom takes them only with
     * `finish: true`). Capped (`streamImagesSchema`) so the frame stays within SQS's 256 KiB message.
     */
    images: z.optional(streamImagesSchema),
    /** Epoch ms the worker wrote it. */
    at: z.number(),
  })
  .check(z.refine((frame) => frame.finish || frame.images === undefined, { error: 'images on an interim frame' }));
export type RelayFrame = z.infer<typeof relayFrameSchema>;

/** Where the worker puts reply frames. */
export interface WeComRelay {
  put(frame: RelayFrame): Promise<void>;
}

export function relayGroupId(frame: RelayFrame): string {
  return frame.streamId;
}

export function relayDeduplicationId(frame: RelayFrame): string {
  if (frame.finish) return `${frame.streamId}:final`;
  return createHash('sha256').update(`${frame.streamId}\n${frame.content}`, 'utf8').digest('hex');
}

/** SendMessage to the relay FIFO queue over the hand-signed client (no AWS SDK module for one call). */
export function sqsWeComRelay(sqs: AwsJsonClient, queueUrl: string): WeComRelay {
  return {
    async put(frame) {
      await sqs.call('SendMessage', {
        QueueUrl: queueUrl,
        MessageBody: JSON.stringify(frame),
        MessageGroupId: relayGroupId(frame),
        MessageDeduplicationId: relayDeduplicationId(frame),
      });
    },
  };
}

/** The relay frame of `reply`'s handle, or a PlatformApiError when the handle is not a long-connection one. */
function frameFor(
  target: ReplyTarget,
  text: string,
  finish: boolean,
  config: ResolvedWeComConfig,
  now: number,
  images: readonly StreamImage[] = [],
): RelayFrame {
  const { handle } = target;
  if (handle.platform !== 'wecom' || handle.reqId === undefined) {
    throw new PlatformApiError('WeCom relay needs a reply handle from the long connection (with its req_id)', 0, '');
  }
  return {
    v: 1,
    reqId: handle.reqId,
    chatId: handle.chatId,
    streamId: wecomStreamId(target.idempotencyKey),
    content: streamContent(text, config),
    finish,
    ...(finish && images.length > 0 ? { images: [...images] } : {}),
    at: now,
  };
}

/** Puts one frame; a final frame carries the reply's images that fit (those left out are reported). */
async function putFrame(
  relay: WeComRelay,
  target: ReplyTarget,
  text: string,
  finish: boolean,
  config: ResolvedWeComConfig,
  now: number,
  replyImages?: readonly ReplyImage[],
): Promise<SendResult> {
  const { images, failures } = streamImages(finish ? replyImages : undefined);
  const frame = frameFor(target, text, finish, config, now, images);
  await relay.put(frame);
  return withImages({ messageIds: [frame.streamId] }, { messageIds: [], failures });
}

/**
 * A whole reply as one final frame, with its images. `messageIds` names the stream, which is the message the member
 * sees (the images are part of it).
 */
export function sendViaRelay(
  reply: OutgoingReply,
  relay: WeComRelay,
  config: ResolvedWeComConfig,
  now: () => number,
): Promise<SendResult> {
  return putFrame(relay, reply, reply.text, true, config, now(), reply.images);
}

/**
 * The streaming session's surface operations over the relay. The surface is the stream the reply's frames name (its
 * id derived from the event id), so `open` and `resume` create nothing: they record it, then write the text. Every
 * call is one SendMessage, counted as one platform call.
 */
export function relaySurfaceOps(
  target: ReplyTarget,
  relay: WeComRelay,
  config: ResolvedWeComConfig,
  now: () => number,
): SurfaceOps {
  let calls = 0;
  const put = (text: string, finish: boolean, images?: readonly ReplyImage[]): Promise<SendResult> => {
    calls += 1;
    return putFrame(relay, target, text, finish, config, now(), images);
  };
  return {
    minIntervalMs: STREAM_MIN_INTERVAL_MS,
    calls: () => calls,
    async open(text, record) {
      const surface = { id: wecomStreamId(target.idempotencyKey), openedAt: now() };
      await record(surface);
      await put(text, false);
      return surface;
    },
    resume: async (_surface, text) => {
      await put(text, false);
    },
    push: async (_surface, text) => {
      await put(text, false);
    },
    // The images ride on the final frame (`msg_item`), so there is no `sendImages`.
    finish: (_surface, text, images) => put(text, true, images),
    fail: (_surface, text) => put(text, true),
    sendWhole: (text, images) => put(text, true, images),
  };
}
