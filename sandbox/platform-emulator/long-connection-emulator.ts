import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { SocketHub } from './emulated-sockets';
import type { EmulatedApiRequest, EmulatedApiResponse } from './types';

/**
 * Contract of a long-connection emulator (issue 18): plays the platform's end of its WebSocket mode, next to the
 * HTTP emulator that serves its send APIs. The sandbox routes discovery calls and upgrades to it and, for a platform in
 * long-connection mode, pushes the page's messages over it instead of POSTing the webhook.
 */
export interface LongConnectionEmulator {
  readonly platform: 'feishu' | 'slack' | 'dingtalk' | 'wecom';
  /** Serves the discovery call (`apps.connections.open`, `gateway/connections/open`); undefined for other paths. */
  handleApi(request: EmulatedApiRequest): EmulatedApiResponse | undefined;
  /** Takes a WebSocket upgrade at its socket path; false (untouched) for any other path. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /**
   * Pushes one event on one open socket, picked at random as the platforms do with several connections (queued until
   * a socket opens when none is). `toAll` pushes it on every socket: one event landing on two replicas.
   */
  deliver(payload: Readonly<Record<string, unknown>>, options?: DeliverOptions): SocketDeliveryView;
  /** Resolves true at the delivery's first ack, false after `timeoutMs` without one. */
  waitForAck(deliveryId: string, timeoutMs: number): Promise<boolean>;
  /** Every delivery so far, with its pushes and acks (the emulator's delivery log). */
  deliveries(): readonly SocketDeliveryView[];
  /**
   * Announces a disconnect on every open socket (Slack `disconnect`, DingTalk SYSTEM `disconnect`), closing each after
   * the grace period. Feishu announces none: its sockets are closed at once, with a close frame.
   */
  requestDisconnect(reason?: string): number;
  /** Cuts every socket at once (no close frame); returns how many. */
  dropAll(): number;
  /** Sends text as is on every open socket: frames that are not the protocol's. */
  sendRaw(text: string): void;
  stats(): LongConnectionEmulatorStats;
  close(): Promise<void>;
}

export interface DeliverOptions {
  /** Push on every eligible socket instead of one. */
  readonly toAll?: boolean;
}

export interface SocketPush {
  readonly socketId: number;
  /** Epoch ms. */
  readonly at: number;
  /** 0 for the first push; Slack's `retry_attempt` for a retry; Feishu's re-push count. */
  readonly attempt: number;
}

export interface SocketDeliveryView {
  /** Slack's `envelope_id`; DingTalk's `headers.messageId`; Feishu's `message_id` header. */
  readonly deliveryId: string;
  /** The platform event id the payload carries (Slack `event_id`, DingTalk `msgId`, Feishu `header.event_id`). */
  readonly eventId: string;
  readonly pushes: readonly SocketPush[];
  /** Epoch ms of the first ack. */
  readonly ackedAt?: number;
  readonly acks: number;
  /** Waiting for a socket to open. */
  readonly queued: boolean;
  /**
   * Never acknowledged, and never pushed again: DingTalk robot messages whose socket closed first (fire-and-forget),
   * Slack envelopes past their last retry, or Feishu events past their last re-push.
   */
  readonly abandoned: boolean;
}

export interface LongConnectionEmulatorStats {
  readonly openSockets: number;
  /** The most sockets open at once: 2 when a replacement opened before the socket it replaces closed. */
  readonly peakOpenSockets: number;
  /** Upgrades accepted since start. */
  readonly socketsOpened: number;
  readonly discoveryCalls: number;
  readonly deliveries: number;
  readonly acked: number;
  /** Pushes after the first (Slack retries; `toAll` copies). */
  readonly repushes: number;
  /** Frames from the client the emulator could not read, or acks for no delivery. */
  readonly unexpectedFrames: number;
}

/** What every socket emulator tracks of a delivery: enough for `deliveryView` and `AckWaiters`. */
export interface TrackedDelivery {
  readonly deliveryId: string;
  readonly eventId: string;
  readonly pushes: readonly SocketPush[];
  readonly ackedAt?: number;
  readonly acks: number;
  readonly queued: boolean;
  readonly abandoned: boolean;
}

/** A delivery as tests and the sandbox see it (a copy: later pushes do not change it). */
export function deliveryView(d: TrackedDelivery): SocketDeliveryView {
  return {
    deliveryId: d.deliveryId,
    eventId: d.eventId,
    pushes: [...d.pushes],
    ...(d.ackedAt === undefined ? {} : { ackedAt: d.ackedAt }),
    acks: d.acks,
    queued: d.queued,
    abandoned: d.abandoned,
  };
}

/** The emulator's counters (`LongConnectionEmulator.stats`), from its socket hub and its deliveries. */
export function emulatorStats(
  hub: Pick<SocketHub, 'open' | 'peak' | 'accepted'>,
  deliveries: Iterable<TrackedDelivery>,
  counts: { readonly discoveryCalls: number; readonly unexpectedFrames: number },
): LongConnectionEmulatorStats {
  const all = [...deliveries];
  return {
    openSockets: hub.open().length,
    peakOpenSockets: hub.peak,
    socketsOpened: hub.accepted,
    discoveryCalls: counts.discoveryCalls,
    deliveries: all.length,
    acked: all.filter((d) => d.ackedAt !== undefined).length,
    repushes: all.reduce((n, d) => n + Math.max(0, d.pushes.length - 1), 0),
    unexpectedFrames: counts.unexpectedFrames,
  };
}

/** A JSON answer of an emulated discovery endpoint. */
export function jsonApiResponse(statusCode: number, body: object): EmulatedApiResponse {
  return { statusCode, headers: { 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify(body) };
}

/** Callers of `waitForAck`, resolved when their delivery is acknowledged or given up (`settle`). */
export class AckWaiters {
  private readonly waiting = new Map<string, ((acked: boolean) => void)[]>();

  /** True once acknowledged; false when abandoned, unknown, or after `timeoutMs`. */
  wait(delivery: TrackedDelivery | undefined, timeoutMs: number): Promise<boolean> {
    if (!delivery) return Promise.resolve(false);
    if (delivery.ackedAt !== undefined) return Promise.resolve(true);
    if (delivery.abandoned) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      timer.unref();
      const list = this.waiting.get(delivery.deliveryId) ?? [];
      list.push((acked) => {
        clearTimeout(timer);
        resolve(acked);
      });
      this.waiting.set(delivery.deliveryId, list);
    });
  }

  settle(deliveryId: string, acked: boolean): void {
    for (const resolve of this.waiting.get(deliveryId) ?? []) resolve(acked);
    this.waiting.delete(deliveryId);
  }

  /** Resolves every waiter (the emulator is closing). */
  settleAll(acked: boolean): void {
    for (const id of [...this.waiting.keys()]) this.settle(id, acked);
  }
}
