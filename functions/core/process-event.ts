import type { OutgoingReply, SendResult } from '../platforms/types';
import type { PipelineOutcome, TurnInput } from './answer-pipeline';
import { type DeliveredReply, EventStore } from './event-store';
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
 */
export interface ProcessDeps {
  readonly events: Pick<EventStore, 'claim' | 'markSending' | 'markFailed'>;
  readonly runPipeline: (input: TurnInput) => Promise<PipelineOutcome>;
  readonly send: (reply: OutgoingReply) => Promise<SendResult>;
  /**
   * Marks the event replied with its reply ids and appends the turn to the context (in one write where the store
   * supports transactions). Throws only if the replied status was not written; a turn that cannot be saved is
   * logged, not thrown, because the reply is already out.
   */
  readonly recordDelivery: (pk: string, at: number, reply: DeliveredReply, outcome: PipelineOutcome) => Promise<void>;
  readonly cachePut: (key: string, answer: string) => Promise<void>;
  /** Ledger row, audit record and metrics for one invocation. Must not throw (failures are the caller's to log). */
  readonly recordInvocation: (facts: InvocationFacts) => Promise<void>;
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
  readonly systemPromptFor?: (event: QueuedEvent) => string | undefined;
  readonly maskModelInputFor?: (event: QueuedEvent) => boolean;
  /** Test seam for crash injection at each step. */
  readonly checkpoint?: (step: CheckpointStep, event: QueuedEvent) => void;
}

/** Where crash injection (tests, the sandbox's reliability knobs) may stop a worker. */
export type CheckpointStep = 'claimed' | 'answered' | 'sent' | 'recorded';

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

export class EventInProgressError extends Error {
  constructor(readonly eventKey: string) {
    super(`Event ${eventKey} is being processed by another worker; retry after its lease.`);
    this.name = 'EventInProgressError';
  }
}

export async function processEvent(
  event: QueuedEvent,
  receiveCount: number,
  deps: ProcessDeps,
): Promise<ProcessResult> {
  const startedAt = deps.now();
  const { message } = event;
  const pk = EventStore.key(message.platform, message.eventId);
  const claim = await deps.events.claim(pk, startedAt, deps.leaseMs, undefined, {
    resumeSending: deps.idempotentSend === true,
  });
  if (claim.outcome === 'already_replied') return { kind: 'already_replied' };
  if (claim.outcome === 'delivery_unknown') return { kind: 'delivery_unknown' };
  if (claim.outcome === 'in_progress') throw new EventInProgressError(pk);
  deps.checkpoint?.('claimed', event);

  let outcome: PipelineOutcome;
  let sent: SendResult;
  let recorded: Promise<void> = Promise.resolve();
  try {
    outcome = await deps.runPipeline({
      conversationKey: event.conversationKey,
      text: event.text,
      deadline: deps.deadline(),
      systemPrompt: deps.systemPromptFor?.(event),
      maskModelInput: deps.maskModelInputFor?.(event) ?? true,
    });
    deps.checkpoint?.('answered', event);
    // The cost is incurred once the model has answered, so the ledger row is written even when the send then
    // fails and is retried (finance sees both model calls). It runs alongside the send to keep it off the latency.
    recorded = deps
      .recordInvocation({ event, outcome, startedAt, finishedAt: deps.now(), receiveCount })
      .catch(() => undefined);
    if (!(await deps.events.markSending(pk, deps.now(), claim.attempts))) throw new EventInProgressError(pk);
    sent = await deps.send({
      handle: message.replyHandle,
      text: outcome.reply,
      format: 'markdown',
      ...(message.chatType === 'group' ? { mentionUserId: message.senderId } : {}),
      idempotencyKey: message.eventId,
    });
  } catch (err) {
    await deps.events.markFailed(pk, deps.now(), claim.attempts).catch(() => undefined);
    await recorded;
    throw err;
  }
  deps.checkpoint?.('sent', event);
  // The cache write runs alongside the delivery record. Once the reply is out, a cache or ledger failure must not
  // cause a redelivery (it would be acknowledged as already replied anyway), so those log their own failures.
  const cached = outcome.cachePut
    ? deps.cachePut(outcome.cachePut.key, outcome.cachePut.answer).catch(() => undefined)
    : Promise.resolve();
  await deps.recordDelivery(
    pk,
    deps.now(),
    { messageIds: sent.messageIds, fallback: outcome.source === 'fallback' },
    outcome,
  );
  deps.checkpoint?.('recorded', event);
  await Promise.all([cached, recorded]);
  return { kind: 'replied', messageIds: sent.messageIds, source: outcome.source };
}
