import { MalformedEventError } from '#core/errors';
import { admitEvent, type IngestDeps, type IngestOutcome } from '#core/ingest';
import type { ConnectorLogger } from './connector-logger';
import type { DeliverySemantics, InboundDelivery } from './long-connection';
import { describeFailure } from './session';
import { pause, type Timers } from './timers';

export interface AdmitDeliveryDeps {
  /** The webhook's ingest dependencies: adapters, reservation store, FIFO queue, trigger rules, scopes. */
  readonly ingest: Pick<IngestDeps, 'platform' | 'events' | 'enqueue' | 'triggers' | 'scopes' | 'now'>;
  readonly logger: ConnectorLogger;
  readonly timers: Timers;
  /**
   * Waits between the enqueue attempts a fire-and-forget delivery gets (the platform will not push it again, so the
   * connector retries a failed reservation or send itself). @default [250, 1000, 4000]
   */
  readonly localRetryDelaysMs?: readonly number[];
}

/** What became of one delivery, for logs and tests. */
export type DeliveryOutcome =
  | { readonly kind: 'admitted'; readonly outcome: IngestOutcome; readonly acked: boolean }
  /** Not an event the adapter can read: acknowledged (a retry would carry the same bytes) and skipped. */
  | { readonly kind: 'rejected'; readonly reason: string; readonly acked: boolean }
  /** Could not be enqueued. `redelivered`: left unacknowledged for the platform's retry; else lost, and logged so. */
  | { readonly kind: 'failed'; readonly reason: string; readonly acked: boolean };

export const DEFAULT_LOCAL_RETRY_DELAYS_MS = [250, 1_000, 4_000] as const;

/**
 * Admits one event that arrived on a long connection and acknowledges it by the platform's rule:
 * - An event is acknowledged only after it is durably enqueued (the reservation and the FIFO send both written,
 *   `admitEvent`), never on a timer: an ack says "you may forget this", which is only true once it is on the queue.
 * - `redelivered` platforms (Slack) get no ack when the enqueue fails; they deliver again (`retry_attempt`), maybe to
 *   the other replica, and the reservation plus FIFO deduplication collapse any copy that was enqueued after all. A
 *   slow enqueue past Slack's ack window costs a duplicate delivery, never a lost or doubled answer.
 * - `fire-and-forget` platforms (DingTalk robot messages) never push again, so a failed enqueue is retried here (the
 *   same idempotent reservation and dedup id) before the event is given up and logged as lost; the ack follows
 *   either way, as it changes nothing for such a platform but keeps the protocol's bookkeeping straight.
 * - A payload the adapter cannot read is acknowledged and skipped: no retry carries different bytes.
 */
export async function admitDelivery(
  delivery: InboundDelivery,
  semantics: DeliverySemantics,
  deps: AdmitDeliveryDeps,
): Promise<DeliveryOutcome> {
  const { logger } = deps;
  const fields = { platform: delivery.platform, deliveryId: delivery.deliveryId, attempt: delivery.attempt };
  const delays = semantics === 'fire-and-forget' ? (deps.localRetryDelaysMs ?? DEFAULT_LOCAL_RETRY_DELAYS_MS) : [];
  let failure = '';
  for (let attempt = 0; attempt <= delays.length; attempt++) {
    if (attempt > 0) await pause(deps.timers, delays[attempt - 1] ?? 0);
    try {
      const outcome = await admitOnce(delivery, deps);
      const acked = await acknowledge(delivery, deps.logger);
      logger.info('long connection event handled', {
        ...fields,
        outcome,
        acked,
        admitMs: deps.timers.now() - delivery.receivedAt,
      });
      return { kind: 'admitted', outcome, acked };
    } catch (err) {
      if (err instanceof MalformedEventError) {
        const acked = await acknowledge(delivery, deps.logger);
        logger.warn('long connection event rejected', { ...fields, reason: err.message, acked });
        return { kind: 'rejected', reason: err.message, acked };
      }
      failure = describeFailure(err);
      logger.warn('long connection event not enqueued', { ...fields, error: failure, try: attempt + 1 });
    }
  }
  if (semantics === 'redelivered') {
    logger.warn('long connection event left unacknowledged for redelivery', { ...fields, error: failure });
    return { kind: 'failed', reason: failure, acked: false };
  }
  const acked = await acknowledge(delivery, deps.logger);
  logger.error('long connection event lost: not enqueued and never pushed again', { ...fields, error: failure });
  return { kind: 'failed', reason: failure, acked };
}

async function admitOnce(delivery: InboundDelivery, deps: AdmitDeliveryDeps): Promise<IngestOutcome> {
  const platform = await deps.ingest.platform(delivery.platform);
  if (!platform?.parseConnectionEvent) {
    throw new Error(`platform ${delivery.platform} is not enabled for long connections`);
  }
  const parsed = platform.parseConnectionEvent(delivery.payload, deps.ingest.now());
  switch (parsed.kind) {
    case 'message':
      return (await admitEvent(parsed, deps.ingest, delivery.receivedAt)).outcome;
    case 'ignored':
      return { kind: 'ignored', reason: parsed.reason, ...(parsed.eventId ? { eventId: parsed.eventId } : {}) };
    default:
      return { kind: 'ignored', reason: `${parsed.kind} does not come over a long connection` };
  }
}

/** Sends the ack; a socket that closed meanwhile is logged (the platform re-delivers where it does). */
async function acknowledge(delivery: InboundDelivery, logger: ConnectorLogger): Promise<boolean> {
  try {
    await delivery.ack();
    return true;
  } catch (err) {
    logger.warn('long connection ack not sent', {
      platform: delivery.platform,
      deliveryId: delivery.deliveryId,
      error: describeFailure(err),
    });
    return false;
  }
}
