import type { PlatformName } from '#platforms/types';
import { type BackoffPolicy, backoffDelay, DEFAULT_BACKOFF } from './backoff';
import { type ConnectorLogger, defaultConnectorLogger } from './connector-logger';
import {
  type ConnectionStatus,
  connectionListeners,
  type DeliverySemantics,
  type InboundDelivery,
  type LongConnection,
} from './long-connection';
import { ConnectionOpenError, describeFailure, type OpenedSession, type OpenSession } from './session';
import { systemTimers, type TimerHandle, type Timers } from './timers';

export interface SupervisorOptions {
  readonly platform: PlatformName;
  readonly delivery: DeliverySemantics;
  /** Opens one socket (`slackSocketModeSession`, `dingtalkStreamSession`, `feishuWsSession`). */
  readonly open: OpenSession;
  readonly timers?: Timers;
  readonly backoff?: BackoffPolicy;
  /** Uniform in [0, 1): the jitter. @default Math.random */
  readonly random?: () => number;
  /**
   * An open (discovery, upgrade and greeting) that has not resolved after this long counts as failed, and a socket
   * that opens later is closed at once, so a stalled handshake cannot stall the connection. @default 30000
   */
  readonly openTimeoutMs?: number;
  readonly logger?: ConnectorLogger;
}

export const DEFAULT_OPEN_TIMEOUT_MS = 30_000;

interface LiveSocket {
  readonly session: OpenedSession;
  readonly openedAt: number;
  /** The platform asked to close it; it serves until its replacement is open. */
  retiring: boolean;
}

/**
 * A `LongConnection` that keeps one socket open: opens it, reopens it with exponential backoff and full jitter when it
 * is lost or an open fails (`backoff.ts`: 1 s window doubling to 60 s, reset once a socket stayed up a minute), and
 * opens a replacement at once, before the old socket closes, when the platform announces a disconnect. Events from
 * every open socket are passed on (a retiring socket may still deliver); which one serves only matters for status.
 */
export function superviseConnection(options: SupervisorOptions): LongConnection {
  const timers = options.timers ?? systemTimers;
  const policy = options.backoff ?? DEFAULT_BACKOFF;
  const random = options.random ?? Math.random;
  const openTimeoutMs = options.openTimeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS;
  const logger = options.logger ?? defaultConnectorLogger;
  const { platform } = options;
  const listeners = connectionListeners(platform, logger);
  const { emit } = listeners;

  const sockets = new Map<number, LiveSocket>();
  let serving: number | undefined;
  let opening: { readonly id: number; readonly startedAt: number; readonly done: Promise<void> } | undefined;
  let retry: { readonly handle: TimerHandle; readonly at: number } | undefined;
  let started = false;
  let stopped = false;
  let everConnected = false;
  let nextId = 0;
  let failures = 0;
  let reconnects = 0;
  let lastEventAt: number | undefined;
  let lastError: string | undefined;

  /** A socket that stayed up `stableMs` ends the run of failures (checked lazily: on close and in `status`). */
  function noteStability(): void {
    const current = serving === undefined ? undefined : sockets.get(serving);
    if (current && timers.now() - current.openedAt >= policy.stableMs) failures = 0;
  }

  /** @param atLeastMs a wait the platform asked for (HTTP 429 `Retry-After`), which the jittered delay must not undercut. */
  function scheduleRetry(atLeastMs = 0): void {
    if (stopped || opening || retry) return;
    const delay = Math.max(atLeastMs, backoffDelay(Math.max(0, failures - 1), policy, random));
    const handle = timers.setTimeout(() => {
      retry = undefined;
      attempt();
    }, delay);
    retry = { handle, at: timers.now() + delay };
    logger.info('long connection retry scheduled', { platform, inMs: delay, consecutiveFailures: failures });
  }

  function attempt(): void {
    if (stopped || opening) return;
    const id = ++nextId;
    let settled = false;
    let resolveDone: () => void = () => undefined;
    const done = new Promise<void>((resolve) => {
      resolveDone = resolve;
    });
    opening = { id, startedAt: timers.now(), done };
    const abort = new AbortController();
    const timeout = timers.setTimeout(() => {
      if (settled) return;
      settled = true;
      abort.abort();
      void opened(id, undefined, new ConnectionOpenError('handshake', `no ready socket within ${openTimeoutMs} ms`));
      resolveDone();
    }, openTimeoutMs);
    options.open(callbacksFor(id), abort.signal).then(
      (session) => {
        if (settled) {
          // Too late: the attempt already counted as failed, and another may be under way.
          void session.close().catch(() => undefined);
          return;
        }
        settled = true;
        timers.clearTimeout(timeout);
        // `done` waits for the close of a socket that opened after `stop`, so `stop` returns with nothing open.
        void opened(id, session, undefined).finally(resolveDone);
      },
      (err: unknown) => {
        if (settled) return;
        settled = true;
        timers.clearTimeout(timeout);
        void opened(id, undefined, err);
        resolveDone();
      },
    );
  }

  /** Records the outcome of an attempt; resolves once a socket that opened too late (after `stop`) is closed. */
  async function opened(id: number, session: OpenedSession | undefined, err: unknown): Promise<void> {
    if (opening?.id === id) opening = undefined;
    if (!session) {
      if (stopped) return;
      failures += 1;
      lastError = describeFailure(err);
      logger.warn('long connection open failed', { platform, error: lastError, consecutiveFailures: failures });
      scheduleRetry(err instanceof ConnectionOpenError ? err.retryAfterMs : 0);
      return;
    }
    if (stopped) {
      await session.close().catch(() => undefined);
      return;
    }
    if (everConnected) reconnects += 1;
    everConnected = true;
    sockets.set(id, { session, openedAt: timers.now(), retiring: false });
    serving = id;
    logger.info('long connection open', { platform, reconnects, openSockets: sockets.size });
    emit('connected');
    // The replacement serves now: sockets the platform asked to retire are closed (it would close them anyway).
    for (const [otherId, other] of sockets) {
      if (otherId !== id && other.retiring) void other.session.close().catch(() => undefined);
    }
  }

  function callbacksFor(id: number) {
    return {
      delivery: (delivery: Omit<InboundDelivery, 'platform'>) => {
        if (stopped) return;
        lastEventAt = delivery.receivedAt;
        emit('event', { ...delivery, platform });
      },
      retiring: (reason: string) => {
        const socket = sockets.get(id);
        if (stopped || !socket || socket.retiring) return;
        socket.retiring = true;
        logger.info('platform asked to reconnect; opening a replacement first', { platform, reason });
        if (retry) {
          timers.clearTimeout(retry.handle);
          retry = undefined;
        }
        // Not a failure: no backoff.
        attempt();
      },
      badFrame: (reason: string, bytes: number) => {
        logger.warn('bad frame skipped', { platform, reason, bytes });
      },
      closed: (reason: string) => {
        const socket = sockets.get(id);
        if (!socket) return;
        noteStability();
        sockets.delete(id);
        if (stopped) return;
        if (id !== serving) {
          logger.info('retired socket closed', { platform, reason });
          return;
        }
        serving = undefined;
        // The platform closing a socket it announced is expected; any other loss of an unstable socket counts.
        const upForMs = timers.now() - socket.openedAt;
        if (!socket.retiring && upForMs < policy.stableMs) failures += 1;
        lastError = reason;
        logger.warn('long connection lost', { platform, reason, upForMs });
        emit('disconnected', reason);
        scheduleRetry();
      },
    };
  }

  return {
    platform,
    delivery: options.delivery,
    start() {
      if (started) return;
      started = true;
      attempt();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (retry) timers.clearTimeout(retry.handle);
      retry = undefined;
      serving = undefined;
      const closing = [...sockets.values()].map((s) => s.session.close().catch(() => undefined));
      sockets.clear();
      // A socket still opening is closed as soon as it opens (`opened` sees `stopped`).
      await Promise.all([...closing, opening?.done]);
      listeners.clear();
      logger.info('long connection stopped', { platform });
    },
    status(): ConnectionStatus {
      noteStability();
      const current = serving === undefined ? undefined : sockets.get(serving);
      const state = stopped
        ? 'stopped'
        : !started
          ? 'idle'
          : current
            ? 'connected'
            : everConnected || failures > 0
              ? 'reconnecting'
              : 'connecting';
      return {
        platform,
        state,
        ...(current ? { connectedSince: current.openedAt } : {}),
        ...(lastEventAt === undefined ? {} : { lastEventAt }),
        reconnects,
        consecutiveFailures: failures,
        ...(retry ? { nextAttemptAt: retry.at } : {}),
        ...(opening ? { attemptStartedAt: opening.startedAt } : {}),
        ...(lastError === undefined ? {} : { lastError }),
        openSockets: sockets.size,
      };
    },
    on: listeners.on,
  };
}
