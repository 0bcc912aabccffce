import type { ChatPlatform, OutgoingReply, ReplySession, ReplyTarget, SendResult } from '#platforms/types';

/**
 * Reply sessions: `openReply(target, options)` → `update(fullTextSoFar)`* → `finish(fullText)` | `fail(note)`.
 *
 * Two kinds implement the interface: the one-shot session below (`update` only keeps the text; one `send` when the
 * session settles) and streaming sessions (`streaming-session.ts`: the text grows on a card or message while the
 * model writes). The worker drives both the same way.
 *
 * Exactly-once fence: what stops a redelivered SQS message from replying twice.
 * - One-shot: the worker writes the event's `sending` status (`EventStore.markSending`, fenced by the claim's
 *   `attempts`) BEFORE the send and `replied` with the message ids after it. A worker that dies in between leaves
 *   `sending`; the next delivery must not send again, so it is acknowledged as `delivery_unknown` (at most one
 *   reply, maybe none) — unless the platform deduplicates on our idempotency key (`ChatPlatform.idempotentSend`,
 *   Feishu's `uuid`): then the next delivery sends again within the dedup window and the platform drops the copy.
 * - Streaming: `sending` is written right before the session's first platform-visible call (its first update or its
 *   settle), and the surface the session opens is recorded on the event (`EventStore.markReplyOpened`, `onOpened`)
 *   before its first visible text. A redelivery after a crash mid-reply claims the `sending` event only when a
 *   surface is recorded (`resumeSending: 'with_surface'`), gets it back from `claim`, answers again and overwrites
 *   THAT surface with the full text (`OpenReplyOptions.resume`) — never a second card. Without a recorded surface a
 *   `sending` event may have been answered by a plain message (cache hit, skill, failed open), so it is acknowledged
 *   as `delivery_unknown` unless the platform deduplicates sends. Surface ids derived from the event id (Feishu's
 *   send `uuid`, DingTalk's `outTrackId`, WeCom's `stream.id`) make the open itself repeatable; Slack's stream `ts`
 *   is assigned by Slack, so a crash between `chat.startStream` and the record (one DynamoDB write) can leave one
 *   orphan stream. Surfaces left open after the last redelivery are finished by the sweeper.
 */

/** A call on a session that has already settled (finish or fail was called). */
export class ReplySessionClosedError extends Error {
  constructor(call: 'update' | 'finish' | 'fail', settledBy: 'finish' | 'fail' | 'abandon') {
    super(`Reply session already settled by ${settledBy}(); ${call}() refused.`);
    this.name = 'ReplySessionClosedError';
  }
}

type Send = (reply: OutgoingReply) => Promise<SendResult>;

/**
 * The one-shot session: buffers `update`s, sends once on `finish` (the full text, then its images) or `fail` (the
 * note alone — a partial answer cut mid-sentence is never sent as if it were the answer). The session settles when `finish`/`fail`
 * is called, before the send resolves, so a second settle while the first send is in flight is refused too.
 * `buffered` is the last `update`'s text (for diagnostics and tests; `finish` sends its own argument).
 */
export function openOneShotReply(send: Send, target: ReplyTarget): ReplySession & { readonly buffered: string } {
  let buffered = '';
  let settledBy: 'finish' | 'fail' | 'abandon' | undefined;
  let platformCalls = 0;
  const settle = async (
    call: 'finish' | 'fail',
    text: string,
    images?: OutgoingReply['images'],
  ): Promise<SendResult> => {
    if (settledBy) throw new ReplySessionClosedError(call, settledBy);
    settledBy = call;
    const sent = await send({ ...target, text, ...(images && images.length > 0 ? { images } : {}) });
    // One call per delivered part (a long reply is split); retries inside `send` are not visible here.
    platformCalls = sent.messageIds.length;
    return sent;
  };
  return {
    get buffered() {
      return buffered;
    },
    get platformCalls() {
      return platformCalls;
    },
    update: async (fullTextSoFar) => {
      if (settledBy) throw new ReplySessionClosedError('update', settledBy);
      buffered = fullTextSoFar;
    },
    finish: (fullText, options) => settle('finish', fullText, options?.images),
    // A note is not an answer: it carries no images.
    fail: (note) => settle('fail', note),
    // Nothing is in flight before the one send, which is the settle itself.
    abandon: async () => {
      settledBy ??= 'abandon';
    },
  };
}

/** Completes an adapter that only knows `send` with one-shot reply sessions built on that `send`. */
export function withOneShotReplies(adapter: Omit<ChatPlatform, 'openReply'>): ChatPlatform {
  return {
    ...adapter,
    openReply: async (target) => openOneShotReply((reply) => adapter.send(reply), target),
  };
}
