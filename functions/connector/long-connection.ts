import type { PlatformName } from '#platforms/types';
import type { ConnectorLogger } from './connector-logger';
import { describeFailure } from './session';

/**
 * One platform's long connection (issue 18): an outbound WebSocket the platform pushes events on, used instead of a
 * public webhook. Implemented once by the supervisor (`supervisor.ts`: reconnects, backoff, status) over a
 * platform's session opener (`slack-socket-mode.ts`, `dingtalk-stream.ts`, `feishu-ws.ts`: one physical socket each).
 */
export interface LongConnection {
  readonly platform: PlatformName;
  /** What the platform does with a delivery nobody acknowledged; the connector's ack policy follows from it. */
  readonly delivery: DeliverySemantics;
  /** Starts connecting (and reconnecting) until `stop`. A second call does nothing. */
  start(): void;
  /** Closes every socket and cancels pending retries; resolves once closed. No event is emitted afterwards. */
  stop(): Promise<void>;
  status(): ConnectionStatus;
  /** Subscribes; the returned function unsubscribes. Listeners must not throw (a throw is logged and dropped). */
  on<E extends keyof LongConnectionEvents>(event: E, listener: LongConnectionEvents[E]): () => void;
}

/**
 * - `redelivered`: the platform retries a delivery that was not acknowledged in time (Slack Socket Mode: envelopes
 *   come back with `retry_attempt`; Feishu: pushed again 15 s, 5 min, 1 h, 6 h later without an ack within 3 s), so
 *   an event is acknowledged only once it is durably enqueued; a failed enqueue is left unacknowledged and comes back.
 * - `fire-and-forget`: the platform never pushes a delivery again (DingTalk Stream robot messages), so the connector
 *   retries the enqueue itself before it gives up, and acknowledges after the attempt either way.
 */
export type DeliverySemantics = 'redelivered' | 'fire-and-forget';

export interface LongConnectionEvents {
  /** A socket is open and ready (Slack: `hello` received; DingTalk, Feishu: the upgrade succeeded). */
  connected: () => void;
  /** The serving socket was lost; the supervisor is reconnecting unless it was stopped. */
  disconnected: (reason: string) => void;
  /** One event pushed by the platform, to admit and then acknowledge (`admit-delivery.ts`). */
  event: (delivery: InboundDelivery) => void;
}

/** One event as a socket delivered it. */
export interface InboundDelivery {
  readonly platform: PlatformName;
  /**
   * The platform's id of this delivery, for logs: Slack's `envelope_id`, DingTalk's `headers.messageId`, Feishu's
   * `message_id` header.
   */
  readonly deliveryId: string;
  /**
   * The event body, JSON-decoded, for `ChatPlatform.parseConnectionEvent`: Slack's envelope `payload` (an Events API
   * body), DingTalk's CALLBACK `data` (a robot message), Feishu's reassembled `event` frames (a schema 2.0 event).
   */
  readonly payload: unknown;
  /** How many times the platform delivered it before (Slack `retry_attempt`); 0 for a first delivery. */
  readonly attempt: number;
  /** Epoch ms the frame arrived. */
  readonly receivedAt: number;
  /**
   * Acknowledges on the socket that delivered it. Rejects when that socket is gone; the platform then re-delivers
   * where it does, and the ingest path's dedup collapses the copy.
   */
  ack(): Promise<void>;
}

/**
 * `standby`: a leased connection (`leased-connection.ts`, WeCom: one socket per bot) whose lease another replica
 * holds, or whose holder was superseded and pauses; it connects when it gets the lease (or the pause ends).
 */
export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'standby' | 'stopped';

/** What `GET /healthz` and the logs show of one connection. */
export interface ConnectionStatus {
  readonly platform: PlatformName;
  readonly state: ConnectionState;
  /** Epoch ms the serving socket opened. */
  readonly connectedSince?: number;
  /** Epoch ms of the last event delivered (any socket). */
  readonly lastEventAt?: number;
  /** Sockets opened after the first one: losses recovered plus server-requested replacements. */
  readonly reconnects: number;
  /** Attempts in a row that failed to open, or opened sockets that did not stay up for `stableMs`. */
  readonly consecutiveFailures: number;
  /** Epoch ms the next attempt is due, while one is scheduled. */
  readonly nextAttemptAt?: number;
  /** Epoch ms the attempt in flight started, while one is. */
  readonly attemptStartedAt?: number;
  /** Why the last attempt failed or the last socket closed (no secrets: status codes and reasons only). */
  readonly lastError?: string;
  /** Sockets currently open: 2 while a replacement overlaps the socket the platform asked to retire. */
  readonly openSockets: number;
  /** In `standby`: the replica holding the connection's lease, as the lease item names it. */
  readonly leaseHolder?: string;
}

/** The listeners of one `LongConnection`: its `on`, the `emit` its implementation calls, and `clear` for `stop`. */
export interface ConnectionListeners {
  on: LongConnection['on'];
  emit<E extends keyof LongConnectionEvents>(event: E, ...args: Parameters<LongConnectionEvents[E]>): void;
  clear(): void;
}

/** Listeners that must not throw: a throw is logged and dropped, so one listener cannot stop the others. */
export function connectionListeners(platform: PlatformName, logger: ConnectorLogger): ConnectionListeners {
  const listeners: { [E in keyof LongConnectionEvents]: Set<LongConnectionEvents[E]> } = {
    connected: new Set(),
    disconnected: new Set(),
    event: new Set(),
  };
  return {
    on(event, listener) {
      const set = listeners[event] as Set<typeof listener>;
      set.add(listener);
      return () => {
        set.delete(listener);
      };
    },
    emit(event, ...args) {
      for (const listener of listeners[event]) {
        try {
          (listener as (...a: typeof args) => void)(...args);
        } catch (err) {
          logger.error('connection listener threw', { platform, event, error: describeFailure(err) });
        }
      }
    },
    clear() {
      for (const set of Object.values(listeners)) set.clear();
    },
  };
}
