import { createHash, randomUUID } from 'node:crypto';
import { PlatformApiError } from '#core/errors';
import { capReplyChars, sanitizeReplyText } from '#platforms/shared/index';
import type { SurfaceOps } from '#platforms/shared/streaming-session';
import type { OpenedSurface, ReplyHandle, SendResult } from '#platforms/types';
import * as z from '#shared/zod';
import type { DingTalkCardConfig, ResolvedDingTalkConfig } from './config';
import { neutraliseDingTalkMentions } from './mentions';
import { type DingTalkOpenApi, isRejectedToken, openApiErrorCode, parseJson } from './openapi';

/**
 * A streamed DingTalk reply is an AI card (互动卡片): `createAndDeliver` with `callbackType: "STREAM"`, INPUTING,
 * then full-text writes to `/v1.0/card/streaming`, then FINISHED or FAILED through `PUT /v1.0/card/instances`
 * (docs/STREAMING-AND-LONG-CONNECTION.md §1.2).
 */

/**
 * Spacing of interim writes on one card. DingTalk publishes no per-card limit; community clients use 300–350 ms
 * (doc §2 throttle table), which also keeps one reply far below the per-app QPS limit.
 */
export const DINGTALK_CARD_MIN_INTERVAL_MS = 300;

/** `flowStatus` of DingTalk's AI-card templates (the SDK's `AICardStatus`); map values are strings on the wire. */
export const AI_CARD_STATUS = { processing: '1', inputing: '2', finished: '3', executing: '4', failed: '5' } as const;

type DingTalkHandle = Extract<ReplyHandle, { platform: 'dingtalk' }>;

/** Where a card goes: the `openSpaceId` plus the deliver model its space type requires. */
export interface DingTalkCardSpace {
  readonly openSpaceId: string;
  readonly deliverModel:
    | {
        readonly imGroupOpenDeliverModel: {
          readonly robotCode: string;
          /** `{userId: nickname}`: whom the card @-mentions in the group, like one-shot replies [U: value format]. */
          readonly atUserIds?: Readonly<Record<string, string>>;
        };
      }
    | { readonly imRobotOpenDeliverModel: { readonly spaceType: 'IM_ROBOT' } };
}

/**
 * The card's space for this reply handle, or undefined when the handle cannot address one (queued before streaming
 * existed, or a 1:1 chat whose sender has no staff id): such replies stay one plain message.
 */
export function dingtalkCardSpace(
  handle: DingTalkHandle,
  robotCode: string,
  mentionUserId?: string,
): DingTalkCardSpace | undefined {
  if (handle.conversationType === 'group') {
    return {
      openSpaceId: `dtv1.card//IM_GROUP.${handle.conversationId}`,
      deliverModel: {
        imGroupOpenDeliverModel: {
          robotCode: handle.robotCode ?? robotCode,
          ...(mentionUserId ? { atUserIds: { [mentionUserId]: mentionUserId } } : {}),
        },
      },
    };
  }
  if (handle.conversationType === 'direct' && handle.senderStaffId) {
    return {
      openSpaceId: `dtv1.card//IM_ROBOT.${handle.senderStaffId}`,
      deliverModel: { imRobotOpenDeliverModel: { spaceType: 'IM_ROBOT' } },
    };
  }
  return undefined;
}

/**
 * The card's `outTrackId`: sha256 hex of the event id (64 characters). Deterministic, so every delivery of one event
 * addresses the same card and a worker that dies between creating and recording it cannot cause a second one.
 */
export function dingtalkOutTrackId(idempotencyKey: string): string {
  return createHash('sha256').update(`dingtalk-card:${idempotencyKey}`, 'utf8').digest('hex');
}

export interface DingTalkCardOpsInput {
  readonly config: ResolvedDingTalkConfig;
  readonly card: DingTalkCardConfig;
  readonly space: DingTalkCardSpace;
  readonly idempotencyKey: string;
  /** Built on the session's counting fetch and the adapter's token cache. */
  readonly api: DingTalkOpenApi;
  /** Counts every HTTP attempt of the session (`countingFetch`), the card calls and `sendWhole` alike. */
  readonly calls: () => number;
  /** The one-shot send of this reply (sessionWebhook or robot API, then its images), on the same counting fetch. */
  readonly sendWhole: SurfaceOps['sendWhole'];
  /** Images after a finished card (`SurfaceOps.sendImages`), on the same counting fetch. */
  readonly sendImages?: SurfaceOps['sendImages'];
  readonly now: () => number;
  /** A fresh `guid` per streaming write. @default randomUUID */
  readonly newGuid?: () => string;
}

/**
 * Interim writes are tried once: the session drops a failed one and the next write carries the whole text anyway,
 * so retrying would only delay newer text. Opening and settling use the adapter's full retry policy.
 */
const INTERIM_POLICY = { maxAttempts: 1 } as const;

export function createDingTalkCardOps(input: DingTalkCardOpsInput): SurfaceOps {
  const { api, card, config } = input;
  const outTrackId = dingtalkOutTrackId(input.idempotencyKey);
  const newGuid = input.newGuid ?? randomUUID;
  const cardText = (text: string): string =>
    capReplyChars(neutraliseDingTalkMentions(sanitizeReplyText(text)), config.replyLimits.maxChars);

  const stream = (text: string, end: { isFinalize: boolean; isError: boolean }, interim: boolean) =>
    api.call(
      'PUT',
      '/v1.0/card/streaming',
      { outTrackId, guid: newGuid(), key: card.contentKey, content: cardText(text), isFull: true, ...end },
      interim ? INTERIM_POLICY : undefined,
    );

  const setInstance = (params: Readonly<Record<string, string>>) =>
    api.call('PUT', '/v1.0/card/instances', { outTrackId, cardData: { cardParamMap: params } });

  /** Set once this session knows the card exists: a failed open then keeps it as the surface. */
  let cardExists = false;

  /** Creates and delivers the card (PROCESSING), then switches it to INPUTING so streamed text shows. */
  async function deliver(): Promise<void> {
    try {
      const response = await api.call('POST', '/v1.0/card/instances/createAndDeliver', {
        cardTemplateId: card.templateId,
        outTrackId,
        // Without STREAM the card accepts no `/card/streaming` writes (HTTP 500; doc §1.2 gotchas).
        callbackType: 'STREAM',
        cardData: { cardParamMap: { [card.contentKey]: '', flowStatus: AI_CARD_STATUS.processing } },
        imGroupOpenSpaceModel: { supportForward: true },
        imRobotOpenSpaceModel: { supportForward: true },
        // Without it the card is created but never shown (doc §1.2 gotchas).
        userIdType: 1,
        openSpaceId: input.space.openSpaceId,
        ...input.space.deliverModel,
      });
      assertDelivered(response.status, response.body);
    } catch (err) {
      // The id derives from the event: an earlier attempt (or a retry whose answer was lost) already created it.
      if (!isDuplicateCard(err)) throw err;
    }
    cardExists = true;
    await setInstance({ flowStatus: AI_CARD_STATUS.inputing });
  }

  /** A streamed write that creates the card first when an earlier attempt recorded it but died before creating it. */
  async function streamCreatingCard(text: string, end: { isFinalize: boolean; isError: boolean }): Promise<void> {
    try {
      await stream(text, end, false);
    } catch (err) {
      if (!isMissingCard(err)) throw err;
      await deliver();
      await stream(text, end, false);
    }
  }

  /**
   * Ends the card: the final text streamed and finalised, then the terminal `flowStatus` with the same text. The
   * instance update carries the text too, so a card that refused the streamed write still ends with the answer.
   */
  async function settle(surface: OpenedSurface, text: string, outcome: 'finished' | 'failed'): Promise<SendResult> {
    const failed = outcome === 'failed';
    try {
      await streamCreatingCard(text, { isFinalize: true, isError: failed });
    } catch (err) {
      // An earlier attempt settled this card and died before recording it: the reply is already on the card.
      if (isClosedCard(err)) return { messageIds: [surface.id] };
    }
    try {
      await setInstance({
        [card.contentKey]: cardText(text),
        flowStatus: failed ? AI_CARD_STATUS.failed : AI_CARD_STATUS.finished,
      });
    } catch (err) {
      if (!isClosedCard(err)) throw err;
    }
    return { messageIds: [surface.id] };
  }

  return {
    minIntervalMs: DINGTALK_CARD_MIN_INTERVAL_MS,
    calls: input.calls,
    async open(text, record) {
      const surface: OpenedSurface = { id: outTrackId, openedAt: input.now() };
      // Recorded before the card exists: the id is deterministic, so a record without a card is harmless (resume
      // creates it), while a card without a record could otherwise be doubled.
      await record(surface);
      try {
        await deliver();
      } catch (err) {
        // DingTalk refused to create the card: nothing is shown, and the session falls back to one plain message.
        if (!cardExists && refusedOutright(err)) throw err;
        // The card exists, or may (an answer lost in transit): it is this reply's surface. A plain message beside it
        // would be a second reply; the next push or the settle writes the whole text, creating the card if need be.
        return surface;
      }
      try {
        await stream(text, { isFinalize: false, isError: false }, true);
      } catch (err) {
        // Refused outright, the card cannot take streamed text (a content key the template lacks): it is closed
        // FAILED and the session sends one plain message instead, as for a card that was never created. A token
        // rejected even after the refresh says nothing about the card, which is shown by now: it stays the surface.
        if (refusedOutright(err) && !isRejectedToken(err)) {
          await setInstance({ flowStatus: AI_CARD_STATUS.failed }).catch(() => undefined);
          throw err;
        }
        // Throttled, unknown (5xx) or a rejected token: the card is shown and stays the surface; the next push or the
        // settle, each with the whole text, fills it. A plain message beside it would be a second reply.
      }
      return surface;
    },
    async resume(_surface, text) {
      try {
        await streamCreatingCard(text, { isFinalize: false, isError: false });
      } catch (err) {
        if (!isClosedCard(err)) throw err;
      }
    },
    async push(_surface, text) {
      await stream(text, { isFinalize: false, isError: false }, true);
    },
    finish: (surface, text) => settle(surface, text, 'finished'),
    fail: (surface, text) => settle(surface, text, 'failed'),
    sendWhole: input.sendWhole,
    ...(input.sendImages ? { sendImages: input.sendImages } : {}),
  };
}

/**
 * `createAndDeliver` answers 200 even when delivery failed; the failure is per space in `deliverResults`
 * (e.g. `errorMsg: "spaceId is illegal"`, ISS chenhg5/cc-connect#1144). A card that was not delivered is not shown.
 */
const createAndDeliverSchema = z.object({
  result: z.optional(
    z.object({
      deliverResults: z.optional(
        z.array(z.object({ success: z.boolean(), errorMsg: z.optional(z.string()), spaceId: z.optional(z.string()) })),
      ),
    }),
  ),
});

function assertDelivered(status: number, body: string): void {
  const parsed = createAndDeliverSchema.safeParse(parseJson(body));
  if (!parsed.success) {
    throw new PlatformApiError('DingTalk createAndDeliver answered an unexpected body', status, body);
  }
  const failed = parsed.data.result?.deliverResults?.find((r) => !r.success);
  if (failed) {
    throw new PlatformApiError(`DingTalk card delivery failed: ${failed.errorMsg ?? 'no reason given'}`, status, body);
  }
}

/*
 * Error codes for the card states below are not published; these match the emulator's codes and the substrings
 * DingTalk uses in its `param.*` codes. [U] — check against the live API.
 */

/** The `outTrackId` names no card (never created, or created by another app). */
export function isMissingCard(err: unknown): boolean {
  return /notexist|notfound/i.test(openApiErrorCode(err) ?? '');
}

/** A card with this `outTrackId` already exists. */
export function isDuplicateCard(err: unknown): boolean {
  return /duplicate|alreadyexist/i.test(openApiErrorCode(err) ?? '');
}

/** DingTalk throttled the call (429, or 403 with a `...QpsLimit...` code) even after the retries: transient. */
function isThrottled(err: unknown): boolean {
  if (!(err instanceof PlatformApiError)) return false;
  return err.status === 429 || (err.status === 403 && /QpsLimit/.test(err.body));
}

/**
 * DingTalk answered and refused the call (a 4xx other than throttling, or a 200 whose delivery failed): nothing was
 * created. A 5xx or a network error leaves that unknown.
 */
function refusedOutright(err: unknown): boolean {
  if (!(err instanceof PlatformApiError)) return false;
  return (err.status < 500 || err.status === 200) && !isThrottled(err);
}

/** The card reached FINISHED or FAILED and accepts no more streaming. */
export function isClosedCard(err: unknown): boolean {
  return /finished|closed/i.test(openApiErrorCode(err) ?? '');
}
