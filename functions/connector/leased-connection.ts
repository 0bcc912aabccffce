import type { PlatformName } from '#platforms/types';
import { type ConnectorLogger, defaultConnectorLogger } from './connector-logger';
import { DEFAULT_LEASE_MS, isGrant, type LeaseGrant, type LeaseStore } from './lease';
import {
  type ConnectionStatus,
  connectionListeners,
  type DeliverySemantics,
  type LongConnection,
} from './long-connection';
import { describeFailure } from './session';
import { systemTimers, type TimerHandle, type Timers } from './timers';

/** What one lease term runs: the supervised connection, and what must stop with it (the reply relay). */
export interface LeaseTerm {
  readonly connection: LongConnection;
  /** Stops what runs beside the connection (called before the connection is stopped; beside it when superseded). */
  stopExtras?(): Promise<void>;
}

export interface LeasedConnectionOptions {
  readonly platform: PlatformName;
  readonly delivery: DeliverySemantics;
  readonly lease: LeaseStore;
  /** This replica's id in the lease item (unique per process). */
  readonly holderId: string;
  /**
   * Starts one term's connection once the lease is held. `superseded` is for the session to call when the platform
   * says a newer connection took over (WeCom's `disconnected_event`).
   */
  readonly startTerm: (superseded: (reason: string) => void) => LeaseTerm;
  readonly logger?: ConnectorLogger;
  readonly timers?: Timers;
  /** The lease's length, as the store grants it; used for the safety margin. @default 30000 */
  readonly leaseMs?: number;
  /** Acquire attempts (standby) and renewals (holder) this often. @default a third of `leaseMs` */
  readonly renewEveryMs?: number;
  /**
   * A holder whose renewals fail stops its connection this long before the lease expires, so it is closed before
   * another replica may take the lease and connect (covers clock skew between replicas). @default a sixth of `leaseMs`
   */
  readonly marginMs?: number;
  /**
   * After being superseded the holder keeps the lease (so no replica of ours connects and kicks the newcomer back) and
   * stays off for this long, doubling with each supersession in a row up to `maxSupersededPauseMs`; then it connects
   * again. @default 300000
   */
  readonly supersededPauseMs?: number;
  /** @default 3600000 */
  readonly maxSupersededPauseMs?: number;
}

/**
 * A long connection that only one replica holds (issue 18, WeCom: one connection per bot, and a second one kicks the
 * first): each replica tries to take the lease (`lease.ts`) every `renewEveryMs`; the one that holds it runs the
 * supervised connection (reconnects with backoff and jitter as for any platform), renews the lease on the same beat and
 * stops the connection when a renewal is refused (the lease was lost) or when renewals have failed until `marginMs`
 * before it expires. The others wait in `standby`, which is healthy, and take over within `leaseMs + renewEveryMs`
 * of the holder's death (at once after a holder's orderly stop, which releases the lease).
 *
 * Superseded (the platform pushed `disconnected_event` because another client connected with the bot's credentials):
 * the connection stops and is not reopened at once — reconnecting would kick the newcomer, which may do the same —
 * but after `supersededPauseMs`, doubling while it repeats; the lease is kept meanwhile so no other replica of ours
 * joins the fight. Logged as an error: two clients share the bot's secret.
 */
export function leasedConnection(options: LeasedConnectionOptions): LongConnection {
  const timers = options.timers ?? systemTimers;
  const logger = options.logger ?? defaultConnectorLogger;
  const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
  const renewEveryMs = options.renewEveryMs ?? Math.floor(leaseMs / 3);
  const marginMs = options.marginMs ?? Math.floor(leaseMs / 6);
  const basePauseMs = options.supersededPauseMs ?? 300_000;
  const maxPauseMs = options.maxSupersededPauseMs ?? 3_600_000;
  const { platform } = options;
  const listeners = connectionListeners(platform, logger);
  const { emit } = listeners;

  let grant: LeaseGrant | undefined;
  let term: { readonly term: LeaseTerm; readonly unsubscribe: readonly (() => void)[] } | undefined;
  let ending: Promise<void> | undefined;
  let timer: TimerHandle | undefined;
  let started = false;
  let stopped = false;
  let pausedUntil: number | undefined;
  let supersessions = 0;
  let terms = 0;
  let lastError: string | undefined;
  let heldBy: string | undefined;
  let ticking: Promise<void> | undefined;

  function beginTerm(): void {
    if (term || stopped || ending) return;
    terms += 1;
    const next = options.startTerm((reason) => superseded(reason));
    const { connection } = next;
    const unsubscribe = [
      connection.on('event', (delivery) => emit('event', delivery)),
      connection.on('connected', () => emit('connected')),
      connection.on('disconnected', (reason) => emit('disconnected', reason)),
    ];
    term = { term: next, unsubscribe };
    connection.start();
  }

  /**
   * Stops the running term (extras first, then the connection); resolves once both stopped. `connectionNow`: stop the
   * connection at once, beside the extras — when superseded, the platform is closing the socket and the supervisor
   * would reopen it (kicking the newcomer) while the relay still waits for its long poll.
   */
  function endTerm(reason: string, connectionNow = false): Promise<void> {
    const current = term;
    if (!current) return ending ?? Promise.resolve();
    term = undefined;
    logger.info('lease term ends', { platform, reason });
    ending = (async () => {
      const extras = current.term.stopExtras?.().catch(() => undefined);
      if (!connectionNow) await extras;
      await current.term.connection.stop();
      await extras;
      for (const off of current.unsubscribe) off();
    })().finally(() => {
      ending = undefined;
    });
    return ending;
  }

  function superseded(reason: string): void {
    if (stopped || !term) return;
    supersessions += 1;
    const pauseMs = Math.min(maxPauseMs, basePauseMs * 2 ** (supersessions - 1));
    pausedUntil = timers.now() + pauseMs;
    lastError = reason;
    logger.error('long connection superseded by another client of the same bot; pausing instead of reconnecting', {
      platform,
      pauseMs,
      supersessions,
    });
    void endTerm('superseded', true).then(() => emit('disconnected', reason));
  }

  async function tick(): Promise<void> {
    const now = timers.now();
    const held = grant;
    if (held) {
      try {
        const renewed = await options.lease.renew(held, now);
        if (!renewed) {
          logger.warn('lease lost; closing the connection', { platform, fence: held.fence });
          grant = undefined;
          pausedUntil = undefined;
          await endTerm('lease lost');
          return;
        }
        grant = renewed;
      } catch (err) {
        lastError = `lease renewal failed: ${describeFailure(err)}`;
        logger.warn('lease renewal failed', { platform, error: describeFailure(err) });
        if (timers.now() >= held.until - marginMs) {
          grant = undefined;
          await endTerm('lease could not be renewed in time');
          return;
        }
      }
      if (pausedUntil !== undefined && timers.now() >= pausedUntil) {
        pausedUntil = undefined;
        logger.info('superseded pause over; connecting again', { platform });
        beginTerm();
      }
      return;
    }
    try {
      const result = await options.lease.acquire(options.holderId, now);
      if (stopped) {
        if (isGrant(result)) await options.lease.release(result);
        return;
      }
      if (!isGrant(result)) {
        heldBy = result.holder;
        return;
      }
      grant = result;
      heldBy = undefined;
      supersessions = 0;
      logger.info('lease acquired; connecting', { platform, fence: result.fence });
      beginTerm();
    } catch (err) {
      lastError = `lease acquisition failed: ${describeFailure(err)}`;
      logger.warn('lease acquisition failed', { platform, error: describeFailure(err) });
    }
  }

  function schedule(ms: number): void {
    if (stopped) return;
    timer = timers.setTimeout(() => {
      timer = undefined;
      ticking = tick()
        .catch((err: unknown) => logger.error('lease tick crashed', { platform, error: describeFailure(err) }))
        .finally(() => {
          ticking = undefined;
          // A holder whose renewal failed checks again by the margin before its lease ends, not at the next beat,
          // which may fall after it.
          const deadline = grant ? grant.until - marginMs - timers.now() : renewEveryMs;
          schedule(Math.max(0, Math.min(renewEveryMs, deadline)));
        });
    }, ms);
  }

  return {
    platform,
    delivery: options.delivery,
    start() {
      if (started) return;
      started = true;
      schedule(0);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (timer) timers.clearTimeout(timer);
      await ticking;
      await endTerm('stopping');
      if (grant) await options.lease.release(grant);
      grant = undefined;
      listeners.clear();
    },
    status(): ConnectionStatus {
      if (term && !stopped) {
        const inner = term.term.connection.status();
        return { ...inner, reconnects: inner.reconnects + Math.max(0, terms - 1) };
      }
      return {
        platform,
        state: stopped ? 'stopped' : started ? 'standby' : 'idle',
        reconnects: Math.max(0, terms - 1),
        consecutiveFailures: 0,
        ...(lastError === undefined ? {} : { lastError }),
        ...(heldBy === undefined ? {} : { leaseHolder: heldBy }),
        ...(pausedUntil === undefined ? {} : { nextAttemptAt: pausedUntil }),
        openSockets: 0,
      };
    },
    on: listeners.on,
  };
}
