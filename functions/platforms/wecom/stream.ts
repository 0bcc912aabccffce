import type { ImageDeliveryFailure, ReplyImage } from '#core/reply-image';
import { withImages } from '#platforms/shared/reply-images';
import { prepareReplyParts } from '#platforms/shared/reply-text';
import { countingFetch, type SurfaceOps } from '#platforms/shared/streaming-session';
import type { AdapterDeps, HttpResponse, OutgoingReply, ReplyHandle, SendResult } from '#platforms/types';
import type { StreamSnapshotStore } from '#stores/stream-snapshots';
import type { ResolvedWeComConfig } from './config';
import { neutraliseWeComMentions } from './mentions';
import { sendWeComReply } from './send';
import {
  encryptedPassiveReply,
  STREAM_CONTENT_LIMIT_BYTES,
  STREAM_WINDOW_MS,
  streamImages,
  streamReply,
} from './stream-protocol';

/**
 * The worker's and the webhook's halves of a WeCom webhook-mode stream (`stream-protocol.ts`). WeCom pulls: the
 * worker never calls WeCom while streaming, it writes the full text so far to the snapshot store, and the webhook
 * answers each refresh callback with the stored snapshot.
 */

/**
 * Stop writing to the stream this long before WeCom's polling window ends. The window is measured from the callback's
 * timestamp (WeCom's clock, whole seconds, at or after the member's message); a final snapshot written later might
 * never be polled. The margin covers a missed refresh (about one a second), DynamoDB latency and clock skew; after
 * it the reply goes to `response_url` instead.
 */
export const STREAM_WINDOW_MARGIN_MS = 20_000;
/**
 * Minimum ms between two snapshot writes. Each is a DynamoDB write and WeCom reads at most one snapshot per refresh
 * (about once a second), so faster writes would only cost.
 */
export const STREAM_MIN_INTERVAL_MS = 500;

/** The stream a message's ack started, from its reply handle; undefined when the ack did not start one. */
export interface StartedStream {
  readonly streamId: string;
  /** Epoch ms when WeCom stops polling. */
  readonly streamUntil: number;
}

export function startedStream(handle: ReplyHandle): StartedStream | undefined {
  if (handle.platform !== 'wecom' || handle.streamId === undefined || handle.streamUntil === undefined) {
    return undefined;
  }
  return { streamId: handle.streamId, streamUntil: handle.streamUntil };
}

/** The text as a snapshot shows it: sanitised, mentions neutralised, cut to one `stream.content` (20480 bytes). */
export function streamContent(text: string, config: ResolvedWeComConfig): string {
  const [content = ''] = prepareReplyParts(text, {
    limits: { ...config.replyLimits, maxMessages: 1 },
    limit: STREAM_CONTENT_LIMIT_BYTES,
    unit: 'bytes',
    neutralise: neutraliseWeComMentions,
  });
  return content;
}

export interface WeComStreamContext {
  readonly config: ResolvedWeComConfig;
  readonly deps: AdapterDeps;
  readonly store: StreamSnapshotStore;
}

/**
 * Delivers a whole reply to a message whose ack started a stream: a finished snapshot while WeCom still polls (its
 * next refresh shows the reply and ends the stream, with the reply's images as `msg_item`), else one `response_url`
 * message, which carries no images (each is reported in `imageFailures`). A snapshot write that throws
 * falls back to `response_url` too, so the member gets the answer (a throw after a write that did land could then
 * show it twice; DynamoDB reports that rarely, and twice beats never).
 * `calls` counts the snapshot write as one platform call (it is what WeCom reads) and every HTTP attempt.
 */
export async function deliverToStream(
  reply: OutgoingReply,
  stream: StartedStream,
  context: WeComStreamContext,
  fetchImpl: typeof fetch = context.deps.fetch,
  countWrite: () => void = () => undefined,
): Promise<SendResult> {
  const { deps, store, config } = context;
  if (deps.now() < stream.streamUntil - STREAM_WINDOW_MARGIN_MS) {
    countWrite();
    try {
      const content = streamContent(reply.text, config);
      const { images, failures } = streamImages(reply.images);
      await store.put(stream.streamId, {
        content,
        finish: true,
        updatedAt: deps.now(),
        ...(images.length > 0 ? { images } : {}),
      });
      // Also when refused: a finished snapshot (an earlier attempt's) already ends this stream.
      return withImages({ messageIds: [stream.streamId] }, { messageIds: [], failures });
    } catch {
      // Falls through to response_url.
    }
  }
  const sent = await sendWeComReply(reply, config, { ...deps, fetch: fetchImpl });
  return withImages(sent, { messageIds: [], failures: notCarried(reply.images, 'WeCom response_url replies') });
}

/** Every image of a reply that went by a path without images, reported as not posted. */
export function notCarried(images: readonly ReplyImage[] | undefined, path: string): ImageDeliveryFailure[] {
  return (images ?? []).map((_image, index) => ({ index, reason: `${path} carry no images` }));
}

/** Thrown by `open` once WeCom has stopped polling: the session then sends the settled reply as one message. */
export class StreamWindowClosedError extends Error {
  constructor(streamId: string) {
    super(`WeCom no longer polls stream ${streamId}; the reply goes to response_url.`);
    this.name = 'StreamWindowClosedError';
  }
}

/**
 * The streaming session's surface operations for one WeCom reply. The surface is the stream the webhook's ack
 * started (its id is derived from the event id), so `open` and `resume` never create anything: they record it and
 * write the text. Past the polling window interim text is dropped (nobody reads it) and the end goes to
 * `response_url`.
 */
export function wecomSurfaceOps(
  target: Omit<OutgoingReply, 'text'>,
  stream: StartedStream,
  context: WeComStreamContext,
): SurfaceOps {
  const { deps, store, config } = context;
  const counted = countingFetch(deps.fetch);
  let writes = 0;
  const polled = (): boolean => deps.now() < stream.streamUntil - STREAM_WINDOW_MARGIN_MS;

  const writeInterim = async (text: string): Promise<void> => {
    if (!polled()) return;
    writes += 1;
    await store.put(stream.streamId, { content: streamContent(text, config), finish: false, updatedAt: deps.now() });
  };
  const settle = (text: string, images?: readonly ReplyImage[]): Promise<SendResult> =>
    deliverToStream({ ...target, text, ...(images ? { images } : {}) }, stream, context, counted.fetch, () => {
      writes += 1;
    });

  return {
    minIntervalMs: STREAM_MIN_INTERVAL_MS,
    calls: () => writes + counted.calls(),
    async open(text, record) {
      if (!polled()) throw new StreamWindowClosedError(stream.streamId);
      const surface = { id: stream.streamId, openedAt: deps.now() };
      await record(surface);
      await writeInterim(text);
      return surface;
    },
    resume: (_surface, text) => writeInterim(text),
    push: (_surface, text) => writeInterim(text),
    // The images ride on the final snapshot (`msg_item`), so there is no `sendImages`.
    finish: (_surface, text, images) => settle(text, images),
    fail: (_surface, text) => settle(text),
    sendWhole: (text, images) => settle(text, images),
  };
}

/**
 * The webhook's answer to a refresh callback: the stored snapshot; while the worker has written none, empty and
 * unfinished — unless WeCom has been polling this id for longer than its window (an event nobody answers), then
 * empty and finished so the stream closes.
 */
export async function answerStreamRefresh(
  streamId: string,
  now: number,
  config: ResolvedWeComConfig,
  store: StreamSnapshotStore | undefined,
): Promise<HttpResponse> {
  // Without a store this deployment never starts streams: a refresh for one is stray and is closed at once.
  const snapshot = store ? await store.get(streamId) : { content: '', finish: true, updatedAt: now };
  if (snapshot) {
    const answer = streamReply(streamId, snapshot.finish, snapshot.content, snapshot.images);
    return encryptedPassiveReply(answer, config, now);
  }
  const firstPolledAt = store ? await store.firstPolledAt(streamId, now) : now;
  const over = now - firstPolledAt >= STREAM_WINDOW_MS;
  return encryptedPassiveReply(streamReply(streamId, over, ''), config, now);
}
