import { PlatformApiError } from '#core/errors';
import { askerMentionId } from '#platforms/shared/mentions';
import { prepareReplyParts, type ReplyLimits } from '#platforms/shared/reply-text';
import { type OutboundResponse, type RetryPolicy, sendWithRetry } from '#platforms/shared/send-with-retry';
import type { SurfaceOps } from '#platforms/shared/streaming-session';
import type { TokenCache } from '#platforms/shared/token-cache';
import type { AdapterDeps, OpenedSurface, ReplyHandle, SendResult } from '#platforms/types';
import * as z from '#shared/zod';
import {
  cardMention,
  cardMessageContent,
  FEISHU_CARD_TEXT_LIMIT_BYTES,
  STREAM_ELEMENT_ID,
  settledCardJson,
  streamingCardJson,
} from './card-json';
import { FEISHU_USER_ID_SHAPE, neutraliseFeishuMentions } from './mentions';
import { FEISHU_RATE_LIMITED_CODE, feishuCode, firstMessageUuid, readMessageId, withTokenRefresh } from './send';

/**
 * A streamed Feishu reply is a CardKit card entity (docs/STREAMING-AND-LONG-CONNECTION.md §1.1): created with the
 * first text, recorded, sent once as a message (its `uuid` derived from the event), then its `stream_md` element
 * is overwritten with the whole answer so far, and a full card update closes streaming with the final text.
 */

/**
 * Spacing of interim writes on one card. Feishu allows 10 card operations per second per card entity (doc §1.1
 * step 3; §2 throttle table suggests 300–500 ms); 300 ms leaves room for the open and settle calls.
 */
export const FEISHU_CARD_MIN_INTERVAL_MS = 300;

/**
 * Interim writes stop this long after streaming was turned on. Feishu closes streaming 10 min after it was last
 * turned on (doc §1.1 "Sequence rules"); later content writes would only collect 300309. The settle's full update
 * still lands after the close.
 */
export const FEISHU_STREAM_PUSH_WINDOW_MS = 9 * 60_000;

/** `sequence` was not larger than the card's last one (duplicate, out of order, or zero). Doc §1.1. */
export /** "cardid is invalid" / "card entity has been sent" (ISS zarazhangrui/lark-coding-agent-bridge#163). */
const CARD_ENTITY_INVALID = 230099;
const SEQUENCE_COMPARE_FAILED = 300_317;
/** The card's streaming mode is closed (explicitly, after 10 min, or early for idleness). Doc §1.1. */
export const STREAMING_MODE_CLOSED = 300_309;

/**
 * Jumps added to the sequence when the settling update loses a sequence comparison: another writer (a redelivered
 * attempt whose clock runs ahead) took a larger one. The final text must land, so it jumps past it.
 */
const SETTLE_SEQUENCE_JUMPS = [1_000, 60_000] as const;

/**
 * Interim writes are tried once: the session drops a failed one and the next carries the whole text anyway, so a
 * retry would only delay newer text and spend the card's 10 ops/s. Opening and settling use the full retry policy.
 */
const INTERIM_POLICY: Partial<RetryPolicy> = { maxAttempts: 1 };

type FeishuHandle = Extract<ReplyHandle, { platform: 'feishu' }>;

export interface FeishuCardOpsInput {
  readonly apiBaseUrl: string;
  readonly handle: FeishuHandle;
  /** The event id: the card message's send `uuid` derives from it. */
  readonly idempotencyKey: string;
  /** Platform user id to @-mention at the start of the card (group replies). */
  readonly mentionUserId?: string;
  readonly limits: ReplyLimits;
  readonly tokens: TokenCache;
  /** The session's deps: `fetch` is the counting fetch whose count `calls` returns. */
  readonly deps: AdapterDeps;
  readonly calls: () => number;
  /** The one-shot send of this reply (text, then images), on the same counting fetch. */
  readonly sendWhole: SurfaceOps['sendWhole'];
  /** Images after a finished card (`SurfaceOps.sendImages`), on the same counting fetch. */
  readonly sendImages?: SurfaceOps['sendImages'];
}

const createCardResponse = z.object({ data: z.object({ card_id: z.string().check(z.minLength(1)) }) });

export function createFeishuCardOps(input: FeishuCardOpsInput): SurfaceOps {
  const { apiBaseUrl, handle, deps, tokens } = input;
  const asker = askerMentionId(input.mentionUserId, FEISHU_USER_ID_SHAPE);
  const mention = asker ? cardMention(asker) : '';
  // The card is the reply's first message, so it carries the first one-shot part's uuid: whichever form an earlier
  // attempt of this event sent (a plain apology, a card, the first part of a split answer), a later attempt's first
  // message lands on it within Feishu's 1 h uuid window instead of showing the member a second reply.
  const uuid = firstMessageUuid(input.idempotencyKey);

  /** The last sequence this process used on the card; the next is always larger (per card, shared by all ops). */
  let lastSequence = 0;
  /** When streaming was last turned on, as far as this process knows (open, resume, or a reopening update). */
  let streamingSince = Number.NEGATIVE_INFINITY;
  /** Feishu said streaming is closed: interim writes stop until the settle. */
  let streamClosed = false;
  /** The card message, once sent (or found again by its uuid). */
  let messageId: string | undefined;

  /** The answer as it goes on the card: sanitised, mentions neutralised, capped; without the asker's mention. */
  const cardBody = (text: string): string =>
    prepareReplyParts(text, {
      limits: { ...input.limits, maxMessages: 1 },
      limit: FEISHU_CARD_TEXT_LIMIT_BYTES - Buffer.byteLength(mention),
      unit: 'bytes',
      neutralise: neutraliseFeishuMentions,
    })[0] ?? '';

  /**
   * `now − openedAt`: increases across workers and retries without coordination, so a late write from a dead
   * attempt loses with 300317 instead of overwriting newer text (doc §2 "Feishu sequence without coordination").
   * Bumped past the last one used here (same millisecond, or after a loss); never 0, which Feishu refuses.
   */
  const nextSequence = (surface: OpenedSurface): number => {
    lastSequence = Math.max(1, deps.now() - surface.openedAt, lastSequence + 1);
    return lastSequence;
  };

  const call = (
    method: 'POST' | 'PUT',
    path: string,
    body: object,
    policy?: Partial<RetryPolicy>,
  ): Promise<OutboundResponse> =>
    withTokenRefresh(tokens, (token) =>
      sendWithRetry(
        () => ({
          url: `${apiBaseUrl}${path}`,
          method,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json; charset=utf-8' },
          body: JSON.stringify(body),
        }),
        deps,
        { isThrottled: (r) => feishuCode(r.body) === FEISHU_RATE_LIMITED_CODE, ...(policy ? { policy } : {}) },
      ),
    );

  const cardPath = (surface: OpenedSurface) => `/open-apis/cardkit/v1/cards/${encodeURIComponent(surface.id)}`;

  async function createCard(text: string): Promise<string> {
    const response = await call('POST', '/open-apis/cardkit/v1/cards', {
      type: 'card_json',
      data: streamingCardJson(mention + cardBody(text)),
    });
    const parsed = createCardResponse.safeParse(safeJson(response.body));
    if (!parsed.success) {
      throw new PlatformApiError('Feishu card creation answered no data.card_id', response.status, response.body);
    }
    return parsed.data.data.card_id;
  }

  /**
   * Sends the card entity as a message, replying to the member's message (threaded like one-shot replies) or, for a
   * handle without one, into the chat. The `uuid` makes a repeat within 1 h return the existing message.
   */
  async function sendCard(cardId: string): Promise<void> {
    const common = { msg_type: 'interactive', content: cardMessageContent(cardId), uuid };
    const response = handle.messageId
      ? await call('POST', `/open-apis/im/v1/messages/${encodeURIComponent(handle.messageId)}/reply`, {
          ...common,
          reply_in_thread: handle.inThread,
        })
      : await call('POST', '/open-apis/im/v1/messages?receive_id_type=chat_id', {
          ...common,
          receive_id: handle.chatId,
        });
    messageId = readMessageId(response);
  }

  const putContent = (surface: OpenedSurface, text: string, policy?: Partial<RetryPolicy>) =>
    call(
      'PUT',
      `${cardPath(surface)}/elements/${STREAM_ELEMENT_ID}/content`,
      { content: mention + cardBody(text), sequence: nextSequence(surface) },
      policy,
    );

  /** Replaces the whole card: still streaming (reopens a closed stream) or settled with the final text. */
  const putCard = (surface: OpenedSurface, cardJson: string) =>
    call('PUT', cardPath(surface), {
      card: { type: 'card_json', data: cardJson },
      sequence: nextSequence(surface),
    });

  async function settle(surface: OpenedSurface, text: string): Promise<SendResult> {
    const body = cardBody(text);
    const cardJson = settledCardJson(mention + body, body);
    for (let attempt = 0; ; attempt++) {
      try {
        await putCard(surface, cardJson);
        break;
      } catch (err) {
        const jump = SETTLE_SEQUENCE_JUMPS[attempt];
        if (codeOf(err) !== SEQUENCE_COMPARE_FAILED || jump === undefined) throw err;
        lastSequence += jump;
      }
    }
    streamClosed = true;
    return { messageIds: [messageId ?? surface.id] };
  }

  return {
    minIntervalMs: FEISHU_CARD_MIN_INTERVAL_MS,
    // The card is recorded before its message is sent, and a send that timed out may still have been delivered.
    resumeAfterFailedOpen: true,
    calls: input.calls,
    async open(text, record) {
      const cardId = await createCard(text);
      const surface: OpenedSurface = { id: cardId, openedAt: deps.now() };
      streamingSince = surface.openedAt;
      // Recorded before the message exists: a redelivery then re-sends this card by the same uuid, never a second.
      await record(surface);
      await sendCard(cardId);
      return surface;
    },
    async resume(surface, text) {
      // Returns the message an earlier attempt sent (Feishu dedups the uuid for 1 h), or sends it if that attempt
      // died between recording the card and sending it. Past the uuid window (a late redelivery, the sweeper) Feishu
      // refuses a second send of the entity (230099): the card is already in the chat, so carry on and update it.
      try {
        await sendCard(surface.id);
      } catch (err) {
        if (codeOf(err) !== CARD_ENTITY_INVALID) throw err;
      }
      streamingSince = Math.max(streamingSince, surface.openedAt);
      if (deps.now() - streamingSince < FEISHU_STREAM_PUSH_WINDOW_MS) {
        try {
          await putContent(surface, text);
          streamClosed = false;
          return;
        } catch (err) {
          // A write from an attempt with a later clock: the settle jumps past it; nothing to show now.
          if (codeOf(err) === SEQUENCE_COMPARE_FAILED) return;
          if (codeOf(err) !== STREAMING_MODE_CLOSED) throw err;
        }
      }
      // Streaming closed (or about to): a full update shows the text and turns streaming on again.
      await putCard(surface, streamingCardJson(mention + cardBody(text)));
      streamingSince = deps.now();
      streamClosed = false;
    },
    async push(surface, text) {
      if (streamClosed || deps.now() - streamingSince >= FEISHU_STREAM_PUSH_WINDOW_MS) return;
      try {
        await putContent(surface, text, INTERIM_POLICY);
      } catch (err) {
        // Closed early (idle 200850) or by the window: the settle's full update still lands, so stop writing.
        if (codeOf(err) === STREAMING_MODE_CLOSED) {
          streamClosed = true;
          return;
        }
        // 300317 included: `lastSequence` has already moved past the rejected value, so the next write advances.
        throw err;
      }
    },
    finish: settle,
    fail: settle,
    sendWhole: input.sendWhole,
    ...(input.sendImages ? { sendImages: input.sendImages } : {}),
  };
}

function codeOf(err: unknown): number | undefined {
  return err instanceof PlatformApiError ? feishuCode(err.body) : undefined;
}

function safeJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}
