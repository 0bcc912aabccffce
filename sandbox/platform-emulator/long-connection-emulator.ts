import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { EmulatedApiRequest, EmulatedApiResponse } from './types';

/**
 * Contract of a long-connection emulator (issue 18): plays the platform's end of its WebSocket mode, next to the
 * HTTP emulator that serves its send APIs. The sandbox routes discovery calls and upgrades to it and, for a platform in
 * long-connection mode, pushes the page's messages over it instead of POSTing the webhook.
 */
export interface LongConnectionEmulator {
  readonly platform: 'feishu' | 'slack' | 'dingtalk';
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
