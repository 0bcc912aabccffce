import type { ChatPlatform, PlatformName } from '#platforms/types';
import type { EventStore } from '#stores/event-store';
import type { OpenSurfaceEntry } from '#stores/open-surface';

/**
 * The stream sweeper: finishes streamed replies no delivery finished, so no card, AI card or stream is left
 * half-written forever. A streamed reply's surface is recorded on its event before its first text
 * (`EventStore.markReplyOpened`); a redelivery normally resumes and finishes it. When none does (the message was
 * dead-lettered, acknowledged as `delivery_unknown`, or the resume window passed), each run here, for every surface
 * past its sweep time:
 *
 *   claim (lease + fencing token) → the platform's streaming session resuming that surface → `fail(note)` →
 *   `markSwept` (the event is `replied`, so a later redelivery answers `already_replied`: never a second reply).
 *
 * The session is only ever opened with `resume`, so the sweeper overwrites the recorded surface and never posts a new
 * one; a platform that cannot stream (its streaming was switched off since) is refused rather than sent a message.
 * One surface's failure does not stop the others: it is logged, its lease runs out, and a later run tries again
 * (until the event's retention ends).
 */
export type SweeperStore = Pick<EventStore, 'listOpenSurfaces' | 'claimForSweep' | 'markSwept'>;

export interface SweepLogger {
  info(message: string, extra: Readonly<Record<string, unknown>>): void;
  warn(message: string, extra: Readonly<Record<string, unknown>>): void;
  error(message: string, extra: Readonly<Record<string, unknown>>): void;
}

export interface SweeperRuntimeDeps {
  readonly store: SweeperStore;
  /** The enabled platform's adapter, or undefined when the platform is not enabled (built lazily, cached). */
  readonly platformFor: (name: PlatformName) => Promise<ChatPlatform | undefined>;
  /** Written over the surface: the answer was interrupted, please ask again (`DEFAULT_MESSAGES.replyAbandoned`). */
  readonly note: string;
  readonly leaseMs: number;
  readonly log: SweepLogger;
  /** Called once per surface finished and marked (metric `SweptReplies`). */
  readonly onSwept?: (platform: PlatformName) => void;
  /** @default 25 */
  readonly batchSize?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

export interface SweepRunOptions {
  /** Time left in this invocation, ms; no new surface is claimed with less than `SWEEP_STOP_MARGIN_MS` left. */
  readonly remainingMs?: () => number;
}

/** What one run did, per surface it found due. */
export interface SweepReport {
  readonly due: number;
  /** Finished with the note and marked replied. */
  readonly swept: number;
  /** Settled without a platform call: its item holds no surface or target anything could reach. */
  readonly unreadable: number;
  /** Refused by the claim (a worker holds it, or it settled since the index was read), or taken over before marked. */
  readonly skipped: number;
  /** The platform or the store failed; retried by a later run once the lease has run out. */
  readonly failed: number;
  /** Left for the next run: the invocation was about to time out. */
  readonly deferred: number;
}

/** Room for one more surface's platform calls (retries included) before the invocation times out. */
export const SWEEP_STOP_MARGIN_MS = 15_000;
const DEFAULT_BATCH_SIZE = 25;

/** Thrown for a surface this deployment cannot reach without posting a new message. */
export class SurfaceUnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SurfaceUnreachableError';
  }
}

type Outcome = 'swept' | 'unreadable' | 'skipped' | 'failed';

export function createSweeperRuntime(deps: SweeperRuntimeDeps) {
  const now = deps.now ?? Date.now;
  const batchSize = deps.batchSize ?? DEFAULT_BATCH_SIZE;
  const { store, log } = deps;

  async function sweepOne(entry: OpenSurfaceEntry): Promise<Outcome> {
    const attempts = await store.claimForSweep(entry.pk, now(), deps.leaseMs);
    if (attempts === undefined) return 'skipped';
    if (entry.kind === 'unreadable') {
      log.error('open surface cannot be reached; settled without a platform call', {
        pk: entry.pk,
        reason: entry.reason,
      });
      await store.markSwept(entry.pk, now(), attempts, []);
      return 'unreadable';
    }
    const name = entry.target.handle.platform;
    const platform = await deps.platformFor(name);
    if (!platform) throw new SurfaceUnreachableError(`platform ${name} is not enabled`);
    // A non-streaming session would post the note as a new message next to the half-written surface.
    if (platform.streaming !== true) throw new SurfaceUnreachableError(`platform ${name} does not stream here`);
    const session = await platform.openReply(entry.target, { stream: true, resume: entry.surface });
    const sent = await session.fail(deps.note);
    if (!(await store.markSwept(entry.pk, now(), attempts, sent.messageIds))) {
      // Another holder took the event over after our lease ran out; it settles the surface (overwriting the note).
      log.warn('sweep lease lost before the event was marked; its new holder settles it', {
        pk: entry.pk,
        platform: name,
      });
      return 'skipped';
    }
    deps.onSwept?.(name);
    log.info('open surface finished with the interrupted-answer note', {
      pk: entry.pk,
      platform: name,
      surfaceId: entry.surface.id,
      openedAt: entry.surface.openedAt,
    });
    return 'swept';
  }

  /** One sweep over every surface due now (up to the batch size). */
  return async function sweep(options: SweepRunOptions = {}): Promise<SweepReport> {
    const due = await store.listOpenSurfaces(now(), batchSize);
    const counts: Record<Outcome | 'deferred', number> = {
      swept: 0,
      unreadable: 0,
      skipped: 0,
      failed: 0,
      deferred: 0,
    };
    for (const entry of due) {
      if (options.remainingMs && options.remainingMs() < SWEEP_STOP_MARGIN_MS) {
        counts.deferred += 1;
        continue;
      }
      try {
        counts[await sweepOne(entry)] += 1;
      } catch (err) {
        counts.failed += 1;
        log.error('open surface not finished; a later run retries it', { pk: entry.pk, error: err as Error });
      }
    }
    return { due: due.length, ...counts };
  };
}
