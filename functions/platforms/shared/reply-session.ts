import type { ChatPlatform, OutgoingReply, ReplySession, ReplyTarget, SendResult } from '#platforms/types';

/**
 * Reply sessions: `openReply(target)` → `update(fullTextSoFar)`* → `finish(fullText)` | `fail(note)`.
 *
 * Today every adapter uses the one-shot session below: `update` only keeps the text, and the session's single
 * platform call is the `send` made by `finish` (the answer) or `fail` (the note). Streaming adapters (post a
 * placeholder on open, edit it on update, finalise it on finish) are a later change; they implement the same
 * interface, so the worker does not change when one arrives.
 *
 * Exactly-once fence: what stops a redelivered SQS message from replying twice.
 * - Today (one platform call per reply, or one `send` that splits into parts): the worker writes the event's
 *   `sending` status (`EventStore.markSending`, fenced by the claim's `attempts`) BEFORE the first platform call, and
 *   `replied` with the message ids after it. A worker that dies in between leaves `sending`; the next delivery must
 *   not call the platform again, so it is acknowledged as `delivery_unknown` (at most one reply, maybe none) — unless
 *   the platform deduplicates on our idempotency key (`ChatPlatform.idempotentSend`, Feishu's `uuid`), in which case
 *   the next delivery sends again within the platform's dedup window and the platform drops the copy.
 * - Streaming (several platform calls per reply: open, updates, finish): `sending` must still be written before
 *   `open`, and the message `open` created must be recorded on the event right after `open` returns, so a
 *   redelivery after a crash mid-reply can finish THAT message (edit it to the full answer, or to a failure note)
 *   instead of posting a second one. The store method this needs (not written yet; the event store owns it):
 *
 *     // Fenced like markSending: only the claim holder (`attempts`) of a `sending` event may record it.
 *     EventStore.markReplyOpened(pk: string, now: number, attempts: number,
 *                                opened: { readonly messageId: string }, capacity?: CapacitySink): Promise<boolean>
 *
 *   and `claim` then reports the recorded `openedMessageId` (a `resume_reply` outcome, or the field on `claimed`
 *   when `sending` is resumable for that platform), which the worker passes to a resuming open:
 *
 *     ChatPlatform.resumeReply?(target: ReplyTarget, openedMessageId: string): Promise<ReplySession>
 *
 *   A crash between `open` and `markReplyOpened` still leaves an orphan placeholder (`sending` without a message
 *   id): that redelivery is `delivery_unknown`, as today. Updates need no fence: each carries the whole text so far.
 */

/** A call on a session that has already settled (finish or fail was called). */
export class ReplySessionClosedError extends Error {
  constructor(call: 'update' | 'finish' | 'fail', settledBy: 'finish' | 'fail') {
    super(`Reply session already settled by ${settledBy}(); ${call}() refused.`);
    this.name = 'ReplySessionClosedError';
  }
}

type Send = (reply: OutgoingReply) => Promise<SendResult>;

/**
 * The one-shot session: buffers `update`s, sends once on `finish` (the full text) or `fail` (the note alone — a
 * partial answer cut mid-sentence is never sent as if it were the answer). The session settles when `finish`/`fail`
 * is called, before the send resolves, so a second settle while the first send is in flight is refused too.
 * `buffered` is the last `update`'s text (for diagnostics and tests; `finish` sends its own argument).
 */
export function openOneShotReply(send: Send, target: ReplyTarget): ReplySession & { readonly buffered: string } {
  let buffered = '';
  let settledBy: 'finish' | 'fail' | undefined;
  const settle = (call: 'finish' | 'fail', text: string): Promise<SendResult> => {
    if (settledBy) return Promise.reject(new ReplySessionClosedError(call, settledBy));
    settledBy = call;
    return send({ ...target, text });
  };
  return {
    get buffered() {
      return buffered;
    },
    update: async (fullTextSoFar) => {
      if (settledBy) throw new ReplySessionClosedError('update', settledBy);
      buffered = fullTextSoFar;
    },
    finish: (fullText) => settle('finish', fullText),
    fail: (note) => settle('fail', note),
  };
}

/** Completes an adapter that only knows `send` with one-shot reply sessions built on that `send`. */
export function withOneShotReplies(adapter: Omit<ChatPlatform, 'openReply'>): ChatPlatform {
  return {
    ...adapter,
    openReply: async (target) => openOneShotReply((reply) => adapter.send(reply), target),
  };
}
