import type { OutgoingReply, SendResult } from '../platforms/types';
import type { PipelineOutcome, TurnInput } from './answer-pipeline';
import { EventStore } from './event-store';
import type { QueuedEvent } from './queue-message';

/**
 * One queued platform event, answered exactly once:
 * claim (lease) → pipeline → ledger and audit → send → record the reply ids → save the turn and cache.
 *
 * - A redelivered event whose reply was already sent is acknowledged without a model call or a send.
 * - A failure before the send gives the lease back and rethrows, so SQS redelivers (and after N receives the
 *   message moves to the DLQ — never a silent drop).
 * - The reply ids are recorded right after the send, before anything else, to keep the window in which a crash
 *   could cause a second send as small as the platform allows; Feishu additionally deduplicates on the reply `uuid`.
 */
export interface ProcessDeps {
  readonly events: Pick<EventStore, 'claim' | 'markReplied' | 'markFailed'>;
  readonly runPipeline: (input: TurnInput) => Promise<PipelineOutcome>;
  readonly send: (reply: OutgoingReply) => Promise<SendResult>;
  /** Appends the turn to the context (optimistic locking inside). */
  readonly saveTurn: (outcome: PipelineOutcome) => Promise<void>;
  readonly cachePut: (key: string, answer: string) => Promise<void>;
  /** Ledger row, audit record and metrics for one invocation. */
  readonly recordInvocation: (facts: InvocationFacts) => Promise<void>;
  readonly now: () => number;
  /** How long a claim holds; keep it at or above the SQS visibility timeout. */
  readonly leaseMs: number;
  /** Absolute ms by which the model must have answered (below the Lambda timeout). */
  readonly deadline: () => number;
  readonly systemPromptFor?: (event: QueuedEvent) => string | undefined;
  readonly maskModelInputFor?: (event: QueuedEvent) => boolean;
  /** Test seam for crash injection at each step. */
  readonly checkpoint?: (step: 'claimed' | 'answered' | 'sent' | 'recorded') => void;
}

export interface InvocationFacts {
  readonly event: QueuedEvent;
  readonly outcome: PipelineOutcome;
  readonly startedAt: number;
  readonly finishedAt: number;
  readonly receiveCount: number;
}

export type ProcessResult =
  | { readonly kind: 'replied'; readonly messageIds: readonly string[]; readonly source: PipelineOutcome['source'] }
  | { readonly kind: 'already_replied' };

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
  const claim = await deps.events.claim(pk, startedAt, deps.leaseMs);
  if (claim.outcome === 'already_replied') return { kind: 'already_replied' };
  if (claim.outcome === 'in_progress') throw new EventInProgressError(pk);
  deps.checkpoint?.('claimed');

  let outcome: PipelineOutcome;
  let sent: SendResult;
  try {
    outcome = await deps.runPipeline({
      conversationKey: event.conversationKey,
      text: event.text,
      deadline: deps.deadline(),
      systemPrompt: deps.systemPromptFor?.(event),
      maskModelInput: deps.maskModelInputFor?.(event) ?? true,
    });
    deps.checkpoint?.('answered');
    // The ledger and audit rows are written once the cost is incurred (the model has answered), before the send:
    // a send that fails and is retried did cost a second model call, and finance sees both.
    await deps.recordInvocation({ event, outcome, startedAt, finishedAt: deps.now(), receiveCount });
    sent = await deps.send({
      handle: message.replyHandle,
      text: outcome.reply,
      format: 'markdown',
      ...(message.chatType === 'group' ? { mentionUserId: message.senderId } : {}),
      idempotencyKey: message.eventId,
    });
  } catch (err) {
    await deps.events.markFailed(pk, deps.now()).catch(() => undefined);
    throw err;
  }
  deps.checkpoint?.('sent');
  await deps.events.markReplied(pk, deps.now(), {
    messageIds: sent.messageIds,
    fallback: outcome.source === 'fallback',
  });
  deps.checkpoint?.('recorded');

  // The reply is delivered and recorded; a failure here must not cause a redelivery (which would be acknowledged
  // as already replied anyway), so the savers log their own failures.
  await Promise.allSettled([
    outcome.saveTurn ? deps.saveTurn(outcome) : Promise.resolve(),
    outcome.cachePut ? deps.cachePut(outcome.cachePut.key, outcome.cachePut.answer) : Promise.resolve(),
  ]);
  return { kind: 'replied', messageIds: sent.messageIds, source: outcome.source };
}
