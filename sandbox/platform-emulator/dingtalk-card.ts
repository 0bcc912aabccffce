import type { $ZodError } from 'zod/v4/core';
import * as z from '#shared/zod';
import type { EmulatedApiRequest, EmulatedApiResponse, EmulatorContext } from './types';

/**
 * DingTalk's AI-card (互动卡片) APIs as the streaming adapter uses them (docs/STREAMING-AND-LONG-CONNECTION.md §1.2):
 * `POST /v1.0/card/instances/createAndDeliver`, `PUT /v1.0/card/streaming`, `PUT /v1.0/card/instances`.
 *
 * Error codes marked [U] are not published by DingTalk; the emulator's are named so that the adapter's
 * classification (`isMissingCard`, `isDuplicateCard`, `isClosedCard`) is exercised, not to claim the real spelling.
 */

/** The template the sandbox streams into (set as `DINGTALK_CARD_TEMPLATE_ID` by `sandbox/handler-env.ts`). */
export const DINGTALK_EMULATED_CARD_TEMPLATE = { id: 'groupgate-sandbox-ai-card.schema', contentKey: 'msgContent' };

/**
 * The emulated org has every template the adapter names, built like DingTalk's public AI-card template (one streaming
 * text variable `msgContent`, plus `flowStatus`; doc §1.2 prerequisites), so the sandbox streams whatever
 * `DINGTALK_CARD_TEMPLATE_ID` says. Ids starting with `unpublished` model a template that was never published.
 */
const AI_CARD_TEMPLATE = { contentKey: 'msgContent', vars: new Set(['msgContent', 'flowStatus']) } as const;

function templateFor(id: string): typeof AI_CARD_TEMPLATE | undefined {
  return id.startsWith('unpublished') ? undefined : AI_CARD_TEMPLATE;
}

/**
 * Card-API calls one app may make per second. DingTalk does not publish it; community clients throttle to 20 QPS
 * per process and back off on `403 QpsLimit` (doc §1.2 gotchas). [U] Not scaled by `clockScale` (a rate, not a window).
 */
export const DINGTALK_CARD_QPS_LIMIT = 20;

/** `flowStatus` values that end a card (FINISHED, FAILED; the SDK's `AICardStatus`). */
const TERMINAL = { '3': 'finished', '5': 'failed' } as const;

const stringMap = z.record(z.string(), z.string());

const createAndDeliverSchema = z.object({
  cardTemplateId: z.string().check(z.minLength(1)),
  outTrackId: z.string().check(z.minLength(1), z.maxLength(64)),
  callbackType: z.optional(z.string()),
  cardData: z.object({ cardParamMap: stringMap }),
  userIdType: z.optional(z.number()),
  openSpaceId: z.string().check(z.minLength(1)),
  imGroupOpenDeliverModel: z.optional(
    z.object({ robotCode: z.string(), atUserIds: z.optional(z.record(z.string(), z.string())) }),
  ),
  imRobotOpenDeliverModel: z.optional(z.object({ spaceType: z.string() })),
});

const streamingSchema = z.object({
  outTrackId: z.string().check(z.minLength(1)),
  guid: z.string().check(z.minLength(1)),
  key: z.string().check(z.minLength(1)),
  content: z.string(),
  isFull: z.optional(z.boolean()),
  isFinalize: z.optional(z.boolean()),
  isError: z.optional(z.boolean()),
});

const updateInstanceSchema = z.object({
  outTrackId: z.string().check(z.minLength(1)),
  cardData: z.object({ cardParamMap: stringMap }),
});

interface CardState {
  readonly templateVars: ReadonlySet<string>;
  readonly contentKey: string;
  /** Created with `callbackType: "STREAM"`: only then does `/card/streaming` work. */
  readonly streamable: boolean;
  /** Delivered with `userIdType: 1` to a valid space: recorded as a delivery, so visible in the sandbox. */
  readonly shown: boolean;
  readonly params: Record<string, string>;
}

export interface DingTalkCardApi {
  /** Answers a card-API request, or undefined when the path is not a card API. */
  handle(request: EmulatedApiRequest, ctx: EmulatorContext): EmulatedApiResponse | undefined;
  /** Remembers a 1:1 chat, so a card delivered to `IM_ROBOT.<staffId>` is recorded in that chat. */
  noteDirectChat(staffId: string, chatId: string): void;
}

export interface DingTalkCardApiOptions {
  /** The shared checks of every OpenAPI call (fault injection, access token); a response refuses the call. */
  readonly admit: (request: EmulatedApiRequest, ctx: EmulatorContext) => EmulatedApiResponse | undefined;
}

export function createDingTalkCardApi(options: DingTalkCardApiOptions): DingTalkCardApi {
  const cards = new Map<string, CardState>();
  const directChats = new Map<string, string>();
  const recentCalls: number[] = [];

  /** Sliding one-second window over every card call of the app. */
  function overQps(now: number): boolean {
    while (recentCalls.length > 0 && (recentCalls[0] ?? 0) <= now - 1000) recentCalls.shift();
    if (recentCalls.length >= DINGTALK_CARD_QPS_LIMIT) return true;
    recentCalls.push(now);
    return false;
  }

  function createAndDeliver(request: EmulatedApiRequest, ctx: EmulatorContext): EmulatedApiResponse {
    const body = createAndDeliverSchema.safeParse(parseBody(request.body));
    if (!body.success) return invalidParameter(body.error);
    const input = body.data;
    const template = templateFor(input.cardTemplateId);
    if (!template) {
      // The code DingTalk answers for an unpublished template (ISS zfanswer/dify-on-dingtalk#2).
      return json(400, { code: 'param.templateUnpublished', message: 'param.templateUnpublished' });
    }
    if (cards.has(input.outTrackId)) {
      return json(400, { code: 'param.outTrackIdDuplicated', message: 'outTrackId already used' }); // [U]
    }
    const space = deliverySpace(input, ctx);
    // The card exists once created, whether or not it could be delivered (create, then deliver).
    const shown = space.success && input.userIdType === 1;
    const card: CardState = {
      templateVars: template.vars,
      contentKey: template.contentKey,
      streamable: input.callbackType === 'STREAM',
      shown,
      params: { ...input.cardData.cardParamMap },
    };
    cards.set(input.outTrackId, card);
    if (shown && space.success) {
      ctx.record({
        platform: 'dingtalk',
        chatId: space.chatId,
        text: card.params[card.contentKey] ?? '',
        messageId: input.outTrackId,
        // The group card @-mentions whom `atUserIds` names.
        mentions: Object.keys(input.imGroupOpenDeliverModel?.atUserIds ?? {}),
        stream: streamState(card),
      });
    }
    const result = space.success
      ? { spaceType: space.spaceType, spaceId: space.spaceId, success: true, carrierId: `carrier-${input.outTrackId}` }
      : { spaceType: space.spaceType, spaceId: space.spaceId, success: false, errorMsg: space.errorMsg };
    return json(200, { success: true, result: { outTrackId: input.outTrackId, deliverResults: [result] } });
  }

  function deliverySpace(
    input: z.infer<typeof createAndDeliverSchema>,
    ctx: EmulatorContext,
  ):
    | { success: true; spaceType: string; spaceId: string; chatId: string }
    | { success: false; spaceType: string; spaceId: string; errorMsg: string } {
    const match = /^dtv1\.card\/\/(IM_GROUP|IM_ROBOT)\.(.+)$/.exec(input.openSpaceId);
    const spaceType = match?.[1] ?? '';
    const spaceId = match?.[2] ?? '';
    // "spaceId is illegal" is the message DingTalk gives for an unusable space (ISS chenhg5/cc-connect#1144).
    const refuse = (errorMsg: string) => ({ success: false as const, spaceType, spaceId, errorMsg });
    if (spaceType === 'IM_GROUP') {
      if (input.imGroupOpenDeliverModel?.robotCode !== ctx.credentials.dingtalk.robotCode) {
        return refuse('robotCode is illegal');
      }
      return { success: true, spaceType, spaceId, chatId: spaceId };
    }
    if (spaceType === 'IM_ROBOT') {
      if (input.imRobotOpenDeliverModel?.spaceType !== 'IM_ROBOT') return refuse('spaceId is illegal');
      return { success: true, spaceType, spaceId, chatId: directChats.get(spaceId) ?? spaceId };
    }
    return refuse('spaceId is illegal');
  }

  function streaming(request: EmulatedApiRequest, ctx: EmulatorContext): EmulatedApiResponse {
    const body = streamingSchema.safeParse(parseBody(request.body));
    if (!body.success) return invalidParameter(body.error);
    const input = body.data;
    const card = cards.get(input.outTrackId);
    if (!card) return cardNotExist(input.outTrackId);
    if (!card.streamable) {
      // Doc §1.2 gotcha: a card created without `callbackType: "STREAM"` answers streaming with HTTP 500; the body
      // is what DingTalk sends then (ISS soimy/openclaw-channel-dingtalk#81).
      return json(500, { code: 'unknownError', message: '未知错误' });
    }
    if (!card.templateVars.has(input.key) || input.key === 'flowStatus') {
      return json(400, { code: 'param.invalidKey', message: `key ${input.key} is not a template variable` }); // [U]
    }
    if (terminalOf(card) !== undefined) {
      return json(400, { code: 'param.cardFinished', message: 'card is finished; streaming refused' }); // [U]
    }
    const before = card.params[input.key] ?? '';
    const next = input.isFull === false ? before + input.content : input.content;
    card.params[input.key] = next;
    if (card.shown && input.key === card.contentKey && next !== before) {
      ctx.update('dingtalk', input.outTrackId, { text: next });
    }
    return json(200, { success: true, result: true });
  }

  /** Template variables outside the template are ignored (they render nowhere), as a card update does. [U] */
  function updateInstance(request: EmulatedApiRequest, ctx: EmulatorContext): EmulatedApiResponse {
    const body = updateInstanceSchema.safeParse(parseBody(request.body));
    if (!body.success) return invalidParameter(body.error);
    const input = body.data;
    const card = cards.get(input.outTrackId);
    if (!card) return cardNotExist(input.outTrackId);
    const beforeText = card.params[card.contentKey];
    const beforeStream = streamState(card);
    for (const [key, value] of Object.entries(input.cardData.cardParamMap)) {
      if (card.templateVars.has(key)) card.params[key] = value;
    }
    const text = card.params[card.contentKey];
    const stream = streamState(card);
    if (card.shown && (text !== beforeText || stream !== beforeStream)) {
      ctx.update('dingtalk', input.outTrackId, {
        ...(text !== beforeText && text !== undefined ? { text } : {}),
        ...(stream !== beforeStream ? { stream } : {}),
      });
    }
    return json(200, { success: true, result: true });
  }

  return {
    handle(request, ctx) {
      const route =
        request.method === 'POST' && request.path === '/v1.0/card/instances/createAndDeliver'
          ? createAndDeliver
          : request.method === 'PUT' && request.path === '/v1.0/card/streaming'
            ? streaming
            : request.method === 'PUT' && request.path === '/v1.0/card/instances'
              ? updateInstance
              : undefined;
      if (!route) return undefined;
      if (overQps(ctx.now())) {
        // The gateway's throttle answer: HTTP 403 with a `...QpsLimit...` code (doc §1.2 gotchas). [U: exact code]
        return json(403, {
          code: 'Forbidden.AccessDenied.QpsLimitForAppkeyAndApi',
          message: 'QPS limit exceeded for this app and API',
        });
      }
      return options.admit(request, ctx) ?? route(request, ctx);
    },
    noteDirectChat(staffId, chatId) {
      directChats.set(staffId, chatId);
    },
  };
}

function terminalOf(card: CardState): 'finished' | 'failed' | undefined {
  const status = card.params.flowStatus;
  return status === '3' || status === '5' ? TERMINAL[status] : undefined;
}

function streamState(card: CardState): 'streaming' | 'finished' | 'failed' {
  return terminalOf(card) ?? 'streaming';
}

function cardNotExist(outTrackId: string): EmulatedApiResponse {
  return json(400, { code: 'param.cardNotExist', message: `no card with outTrackId ${outTrackId}` }); // [U]
}

function invalidParameter(error: $ZodError): EmulatedApiResponse {
  const problems = error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
  return json(400, { code: 'invalidParameter', message: problems });
}

function parseBody(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

function json(statusCode: number, body: object): EmulatedApiResponse {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}
