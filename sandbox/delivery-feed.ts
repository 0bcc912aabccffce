import type { ServerResponse } from 'node:http';
import type { PlatformName } from '#platforms/types';
import type { EmulatedAudio, EmulatedDelivery, EmulatedImage } from './platform-emulator/types';

/**
 * Live feed of deliveries for the web page: every recorded reply and every change to one (a streamed reply growing)
 * is published to the subscribers (`GET /_sandbox/stream`, server-sent events).
 */
export class DeliveryFeed {
  private readonly subscribers = new Map<(delivery: EmulatedDelivery) => void, () => void>();

  publish(delivery: EmulatedDelivery): void {
    for (const subscriber of this.subscribers.keys()) subscriber(delivery);
  }

  /** Returns the unsubscribe function. `onClose` runs if the feed closes first (the sandbox stopping). */
  subscribe(subscriber: (delivery: EmulatedDelivery) => void, onClose: () => void = () => undefined): () => void {
    this.subscribers.set(subscriber, onClose);
    return () => this.subscribers.delete(subscriber);
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /** Ends every subscription: open event streams must end, or the HTTP server's close would wait on them forever. */
  close(): void {
    const closers = [...this.subscribers.values()];
    this.subscribers.clear();
    for (const onClose of closers) onClose();
  }
}

/**
 * One delivery as the sandbox's routes show it: `GET /_sandbox/messages` items and the `delivery` events of
 * `GET /_sandbox/stream`. `messageId` names the reply across its changes (match on platform + messageId); `stream`,
 * `updates` and `updatedAt` appear once the delivery is a streamed reply or has changed; `threadId` for replies in a
 * thread.
 */
export interface DeliveryView {
  readonly platform: PlatformName;
  readonly chatId: string;
  readonly messageId: string;
  readonly text: string;
  readonly replyTo?: string;
  /** The thread it was posted in (Slack `thread_ts`, Feishu root message id); absent outside threads. */
  readonly threadId?: string;
  readonly mentions: readonly string[];
  readonly at: string;
  readonly stream?: 'streaming' | 'finished' | 'failed';
  readonly updates?: number;
  readonly updatedAt?: string;
  /** An image message: the PNG (base64), its alt text and size; the page shows it under the reply it follows. */
  readonly image?: EmulatedImage;
  /** An audio message (a spoken answer): the Ogg/Opus file (base64); the page plays it under the reply it follows. */
  readonly audio?: EmulatedAudio;
}

export function deliveryView(d: EmulatedDelivery): DeliveryView {
  return {
    platform: d.platform,
    chatId: d.chatId,
    messageId: d.messageId,
    text: d.text,
    ...(d.replyTo ? { replyTo: d.replyTo } : {}),
    ...(d.threadId ? { threadId: d.threadId } : {}),
    mentions: d.mentions ?? [],
    at: d.at,
    ...(d.stream ? { stream: d.stream } : {}),
    ...(d.updates === undefined ? {} : { updates: d.updates }),
    ...(d.updatedAt ? { updatedAt: d.updatedAt } : {}),
    ...(d.image ? { image: d.image } : {}),
    ...(d.audio ? { audio: d.audio } : {}),
  };
}

/** Proxies drop a silent connection after a minute or so; a comment line every 15 s keeps it open. */
export const KEEP_ALIVE_MS = 15_000;
/** How long a browser's EventSource waits before reconnecting after the stream drops. */
const RETRY_MS = 2_000;

export interface DeliveryStreamOptions {
  /** Only this platform's / chat's deliveries, like `GET /_sandbox/messages?platform&chat`. */
  readonly platform?: string | null;
  readonly chat?: string | null;
  /** @default KEEP_ALIVE_MS */
  readonly keepAliveMs?: number;
}

/**
 * Serves `GET /_sandbox/stream`: a `text/event-stream` whose every `delivery` event is one published delivery as
 * `DeliveryView` JSON. No backlog is replayed: a page reads `GET /_sandbox/messages` for what came before. The
 * subscription ends when the client hangs up or the feed closes.
 */
export function serveDeliveryStream(
  res: ServerResponse,
  feed: DeliveryFeed,
  options: DeliveryStreamOptions = {},
): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    // Tells buffering reverse proxies (nginx) to pass each event on at once.
    'x-accel-buffering': 'no',
  });
  res.write(`retry: ${RETRY_MS}\n: connected\n\n`);
  const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), options.keepAliveMs ?? KEEP_ALIVE_MS);
  const unsubscribe = feed.subscribe(
    (delivery) => {
      if (options.platform && delivery.platform !== options.platform) return;
      if (options.chat && delivery.chatId !== options.chat) return;
      res.write(`event: delivery\ndata: ${JSON.stringify(deliveryView(delivery))}\n\n`);
    },
    () => end(),
  );
  const end = (): void => {
    clearInterval(keepAlive);
    unsubscribe();
    if (!res.writableEnded) res.end();
  };
  // Not the request's 'close': it fires as soon as its (empty) body was read; the response's fires on hang-up.
  res.once('close', end);
}
