import { eventKey } from '#core/key-part';
import type {
  FinishOptions,
  OpenedSurface,
  OpenReplyOptions,
  ReplySession,
  ReplyTarget,
  SendResult,
} from '#platforms/types';
import type { DeliveredReply } from '#stores/event-record';
import type { EventStore } from '#stores/event-store';
import type { CacheEntry, PipelineOutcome, TurnInput } from './answer-pipeline';
import type { QueuedEvent } from './queue-message';

/**
 * One queued platform event, answered at most once and, barring a crash in the middle of the platform call,
 * exactly once:
 * claim (lease) → pipeline → ledger and audit (in parallel with the send) → mark sending → send
 * → record the reply ids with the turn → cache.
 *
 * - A redelivered event whose reply was already sent is acknowledged without a model call or a send.
 * - A failure before the send (or a send the platform refused) gives the lease back and rethrows, so SQS
 *   redelivers (and after N receives the message moves to the DLQ — never a silent drop).
 * - `sending` is written before the platform call. A worker that dies after it (the platform may have accepted
 *   the reply) leaves the event unclaimable: after its lease the next delivery acknowledges it as
 *   `delivery_unknown` instead of sending a second reply — unless the platform deduplicates sends
 *   (`idempotentSend`), in which case the next delivery sends again and the platform drops the copy.
 * - Ledger and audit records are never dropped: what cannot be written (after the writer's own retries) is kept in
 *   the event's record with its `replied`/`failed` status and the message fails; the redelivery writes them first
 *   (`RecordsPendingError`), without a model call or a second reply.
 */
export interface ProcessDeps {
  readonly events: Pick<EventStore, 'claim' | 'markSending' | 'markFailed' | 'clearPendingRecords' | 'markReplyOpened'>;
  readonly runPipeline: (input: TurnInput) => Promise<PipelineOutcome>;
  /**
   * Opens the reply to the event. Its first platform call comes after `markSending`, so every call of the session
   * (open, updates, finish) is inside the exactly-once fence; today the answer is complete before the reply opens.
   */
  readonly openReply: (target: ReplyTarget, options?: OpenReplyOptions) => Promise<ReplySession>;
  /**
   * Whether this event's reply is streamed: the platform streams (`ChatPlatform.streaming`) and the chat has not
   * opted out. A streamed reply is opened before the model call, inside the fence, and its surface is recorded.
   */
  readonly streamFor?: (event: QueuedEvent) => boolean;
  /** When the sweeper may finish a surface opened now: after every redelivery the queue can still make. */
  readonly surfaceSweepAt?: (openedAt: number) => number;
  /**
   * Marks the event replied with its reply ids and appends the turn to the context (in one write where the store
   * supports transactions). Throws only if the replied status was not written; a turn that cannot be saved is
   * logged, not thrown, because the reply is already out.
   */
  readonly recordDelivery: (pk: string, at: number, reply: DeliveredReply, outcome: PipelineOutcome) => Promise<void>;
  readonly cachePut: (entry: CacheEntry) => Promise<void>;
  /**
   * Ledger row, audit record and metrics for one invocation. Resolves to the items it could not write (encoded, see
   * `encodePutBatch`), or undefined when all were written. Must not throw (failures are the caller's to log).
   */
  readonly recordInvocation: (facts: InvocationFacts) => Promise<string | undefined>;
  /** Writes records an earlier attempt left pending; throws while they still cannot be written. */
  readonly flushRecords: (pendingRecords: string) => Promise<void>;
  readonly now: () => number;
  /**
   * The platform deduplicates sends on our idempotency key (Feishu's reply `uuid`), so an event whose worker died
   * during the send is sent again instead of being acknowledged as `delivery_unknown`: nothing lost, nothing doubled.
   */
  readonly idempotentSend?: boolean;
  /** How long a claim holds: the Lambda timeout plus a margin, below the SQS visibility timeout. */
  readonly leaseMs: number;
  /** Absolute ms by which the model must have answered (below the Lambda timeout). */
  readonly deadline: () => number;
  /** The system prompt of the event's chat (its override, else the deployment's); undefined leaves the default. */
  readonly systemPromptFor?: (event: QueuedEvent) => string | undefined;
  readonly maskModelInputFor?: (event: QueuedEvent) => boolean;
  /** Test seam for crash injection at each step. */
  readonly checkpoint?: (step: CheckpointStep, event: QueuedEvent) => void;
}

/** Where crash injection (tests, the sandbox's reliability knobs) may stop a worker. */
export type CheckpointStep = 'claimed' | 'streaming' | 'answered' | 'sent' | 'recorded';

/**
 * A crash injected at `streaming` happens at a streamed reply's second update: the first is on its way to the
 * platform (opening the surface) or already shown, and the worker dies before the next update and the settle. The
 * failing attempt lets that open finish and record its surface (`ReplySession.abandon`), as the platform call of a
 * dying worker may well have landed; the redelivery must resume that surface, never open a second.
 */

export interface InvocationFacts {
  readonly event: QueuedEvent;
  readonly outcome: PipelineOutcome;
  readonly startedAt: number;
  readonly finishedAt: number;
  readonly receiveCount: number;
}

export type ProcessResult =
  | { readonly kind: 'replied'; readonly messageIds: readonly string[]; readonly source: PipelineOutcome['source'] }
  | { readonly kind: 'already_replied' }
  /** An earlier attempt died during or after its send; acknowledged so the member never gets two replies. */
  | { readonly kind: 'delivery_unknown' };

/**
 * The reply went out but its ledger row or audit record could not be written: they are kept in the event's record
 * and the SQS message fails, so the redelivery writes them (without a model call or a second reply).
 */
export class RecordsPendingError extends Error {
  constructor(readonly eventKey: string) {
    super(`Ledger/audit records of event ${eventKey} are not written yet; the redelivery writes them.`);
    this.name = 'RecordsPendingError';
  }
}

export class EventInProgressError extends Error {
  constructor(readonly eventKey: string) {
    super(`Event ${eventKey} is being processed by another worker; retry after its lease.`);
    this.name = 'EventInProgressError';
  }
}

/**
 * Opens a streamed reply inside the fence: `sending` first, then the session, resuming the surface an earlier
 * attempt recorded. The session records its surface (`markReplyOpened`, fenced by the claim) before it shows text.
 */
async function openStreamedReply(
  deps: ProcessDeps,
  pk: string,
  claim: { readonly attempts: number; readonly openedSurface?: OpenedSurface },
  target: ReplyTarget,
  markSending: () => Promise<void>,
): Promise<ReplySession> {
  // The fence goes up lazily, right before the session's first platform-visible call (its first update or its
  // settle): a crash during the model call then leaves the event claimable as usual.
  let fence: Promise<void> | undefined;
  const fenced = (): Promise<void> => {
    fence ??= markSending();
    return fence;
  };
  // A lost claim (another delivery took over) must stop this attempt before it settles: a session whose surface
  // could not be recorded would otherwise fall back to a plain message, a second reply.
  let claimLost = false;
  const session = await deps.openReply(target, {
    stream: true,
    ...(claim.openedSurface ? { resume: claim.openedSurface } : {}),
    onOpened: async (surface) => {
      const sweepAt = deps.surfaceSweepAt?.(surface.openedAt) ?? surface.openedAt + deps.leaseMs;
      if (!(await deps.events.markReplyOpened(pk, deps.now(), claim.attempts, { surface, sweepAt, target }))) {
        claimLost = true;
        throw new EventInProgressError(pk);
      }
    },
  });
  const settle =
    <O>(call: (text: string, options?: O) => Promise<SendResult>) =>
    async (text: string, options?: O): Promise<SendResult> => {
      await fenced();
      if (claimLost) throw new EventInProgressError(pk);
      return call(text, options);
    };
  return {
    get platformCalls() {
      return session.platformCalls;
    },
    update: async (text) => {
      await fenced();
      await session.update(text);
    },
    finish: settle((text, options?: FinishOptions) => session.finish(text, options)),
    fail: settle((text) => session.fail(text)),
    abandon: async () => {
      await fence?.catch(() => undefined);
      await session.abandon();
    },
  };
}

export async function processEvent(
  event: QueuedEvent,
  receiveCount: number,
  deps: ProcessDeps,
): Promise<ProcessResult> {
  const startedAt = deps.now();
  const { message } = event;
  const pk = eventKey(message.platform, message.eventId);
  const streaming = deps.streamFor?.(event) === true;
  // A streamed reply is resumed only from a recorded surface: without one, an earlier attempt may have answered with a
  // plain message (cache hit, skill, open failure), which only a deduplicating platform can safely repeat.
  const claim = await deps.events.claim(pk, startedAt, deps.leaseMs, undefined, {
    resumeSending: deps.idempotentSend === true ? true : streaming ? 'with_surface' : false,
  });
  if (claim.outcome === 'already_replied') {
    if (claim.pendingRecords !== undefined) {
      await deps.flushRecords(claim.pendingRecords);
      await deps.events.clearPendingRecords(pk, deps.now());
    }
    return { kind: 'already_replied' };
  }
  if (claim.outcome === 'delivery_unknown') return { kind: 'delivery_unknown' };
  if (claim.outcome === 'in_progress') throw new EventInProgressError(pk);
  deps.checkpoint?.('claimed', event);
  if (claim.pendingRecords !== undefined) {
    // An earlier attempt's model call is on the bill: its records are written before this attempt makes its own.
    try {
      await deps.flushRecords(claim.pendingRecords);
    } catch (err) {
      await deps.events
        .markFailed(pk, deps.now(), claim.attempts, undefined, { pendingRecords: claim.pendingRecords })
        .catch(() => undefined);
      throw err;
    }
    await deps.events.clearPendingRecords(pk, deps.now());
  }

  let outcome: PipelineOutcome;
  let sent: SendResult;
  let recorded: Promise<string | undefined> = Promise.resolve(undefined);
  const target: ReplyTarget = {
    handle: message.replyHandle,
    format: 'markdown',
    ...(message.chatType === 'group' ? { mentionUserId: message.senderId } : {}),
    idempotencyKey: message.eventId,
  };
  let streamed: ReplySession | undefined;
  const markSending = async (): Promise<void> => {
    if (!(await deps.events.markSending(pk, deps.now(), claim.attempts))) throw new EventInProgressError(pk);
  };
  try {
    // Streaming: the session opens before the model call; its fence goes up before its first visible call.
    // A crash injected mid-stream stops the updates and fails the attempt after the model returns, leaving the
    // surface half-written, as a worker that died between two updates would.
    let crashedMidStream: unknown;
    streamed = streaming ? await openStreamedReply(deps, pk, claim, target, markSending) : undefined;
    let updates = 0;
    const onVisibleText = (text: string): void => {
      if (crashedMidStream !== undefined || !streamed) return;
      updates += 1;
      try {
        if (updates === 2) deps.checkpoint?.('streaming', event);
      } catch (crash) {
        crashedMidStream = crash;
        return;
      }
      streamed.update(text).catch(() => undefined);
    };
    outcome = await deps.runPipeline({
      conversationKey: event.conversationKey,
      text: event.text,
      deadline: deps.deadline(),
      systemPrompt: deps.systemPromptFor?.(event),
      maskModelInput: deps.maskModelInputFor?.(event) ?? true,
      ...(streamed ? { onVisibleText } : {}),
    });
    if (crashedMidStream !== undefined) throw crashedMidStream;
    // An answer shown in fewer than two updates passes the `streaming` step before its final write, so a crash there
    // leaves a surface opened but not settled, as a worker dying mid-stream would.
    if (streamed && updates < 2) deps.checkpoint?.('streaming', event);
    deps.checkpoint?.('answered', event);
    // The cost is incurred once the model has answered, so the ledger row is written even when the send then
    // fails and is retried (finance sees both model calls). It runs alongside the send to keep it off the latency.
    recorded = deps
      .recordInvocation({ event, outcome, startedAt, finishedAt: deps.now(), receiveCount })
      .catch(() => undefined);
    let reply = streamed;
    if (!reply) {
      await markSending();
      reply = await deps.openReply(target);
    }
    // The apology for a model that could not answer ends the reply as a failure; everything else is an answer.
    // A streamed reply is settled with the whole text, which replaces what was shown (a refusal replaces it all).
    // A skill's images (a chart) go with its answer, inside the same settle, after the text.
    const images = outcome.images;
    sent =
      outcome.source === 'fallback'
        ? await reply.fail(outcome.reply)
        : await (images ? reply.finish(outcome.reply, { images }) : reply.finish(outcome.reply));
  } catch (err) {
    // A streamed session's open may be in flight (the model finished or failed meanwhile): it completes and records
    // its surface before the event is released, so the redelivery resumes that surface instead of opening a second.
    await streamed?.abandon();
    const pendingRecords = await recorded;
    await deps.events
      .markFailed(pk, deps.now(), claim.attempts, undefined, pendingRecords === undefined ? {} : { pendingRecords })
      .catch(() => undefined);
    throw err;
  }
  deps.checkpoint?.('sent', event);
  // The cache write runs alongside the delivery record. Once the reply is out, a cache or ledger failure must not
  // cause a redelivery (it would be acknowledged as already replied anyway), so those log their own failures.
  const cached = outcome.cachePut ? deps.cachePut(outcome.cachePut).catch(() => undefined) : Promise.resolve();
  const pendingRecords = await recorded;
  await deps.recordDelivery(
    pk,
    deps.now(),
    {
      messageIds: sent.messageIds,
      fallback: outcome.source === 'fallback',
      ...(pendingRecords === undefined ? {} : { pendingRecords }),
    },
    outcome,
  );
  deps.checkpoint?.('recorded', event);
  await cached;
  if (pendingRecords !== undefined) throw new RecordsPendingError(pk);
  return { kind: 'replied', messageIds: sent.messageIds, source: outcome.source };
}
