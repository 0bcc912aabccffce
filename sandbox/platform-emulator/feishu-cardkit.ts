import { randomInt } from 'node:crypto';
import * as z from '#shared/zod';
import { feishuMentions } from './live-mentions';
import type { EmulatedApiRequest, EmulatedApiResponse, EmulatorContext } from './types';

/**
 * Feishu CardKit card entities as the real platform keeps them (docs/STREAMING-AND-LONG-CONNECTION.md §1.1): created
 * from card JSON 2.0, sent as a message at most once, edited by element content writes and full updates that share
 * one per-card `sequence`, streamed for 10 minutes after streaming was last turned on, 10 operations per second.
 */

/** Card and element operations allowed per card entity per second (doc §1.1 step 3, [DOC] 注意事项). Not scaled. */
export const FEISHU_CARD_OPS_PER_SECOND = 10;

/** Streaming closes this long after it was last turned on (doc §1.1 "Sequence rules"); divided by `clockScale`. */
export const FEISHU_STREAMING_WINDOW_MS = 10 * 60_000;

/** Error codes, with the doc §1.1 citation or [U] where no source names the code for that case. */
export const CARDKIT_CODES = {
  /** Feishu's frequency-limit answer: HTTP 429 + 99991400 [DOC open.feishu.cn api-call-guide/frequency-control]. */
  rateLimited: 99991400,
  /** Malformed request body or card JSON: "field validation failed" (ISS liliMozi/openhanako#1943). */
  invalidCard: 99992402,
  /** sequence not a positive int larger than the card's last (doc §1.1; ISS QwenPaw#4572, ChatCCC#191). */
  sequenceCompareFailed: 300317,
  /** Content write after streaming closed (doc §1.1; ISS openclaw#139443). */
  streamingClosed: 300309,
  /** `settings` carrying `summary` (doc §1.1 step 4, CowAgent). */
  settingsRefused: 2200,
  /** No card entity with this id. [U] */
  cardNotFound: 300302,
  /** No element with this `element_id` on the card. [U] */
  elementNotFound: 300303,
} as const;

interface CardEntity {
  readonly id: string;
  /** The `stream_md` (or first markdown) element's content: what the chat shows. */
  content: string;
  elementIds: readonly string[];
  lastSequence: number;
  streaming: boolean;
  /** ctx.now() when streaming was last turned on. */
  streamingSince: number;
  /** The message the entity was sent as; an entity may be sent once. */
  messageId?: string;
  /** ctx.now() of the card operations in the last second (rate limit). */
  recentOps: number[];
}

/** A card JSON 2.0 document, as far as the emulator reads it. */
const cardJsonSchema = z.object({
  schema: z.literal('2.0'),
  config: z.optional(
    z.object({
      streaming_mode: z.optional(z.boolean()),
      update_multi: z.optional(z.boolean()),
      summary: z.optional(z.object({ content: z.string() })),
    }),
  ),
  body: z.object({
    elements: z.array(
      z.object({ tag: z.string(), element_id: z.optional(z.string()), content: z.optional(z.string()) }),
    ),
  }),
});
type CardJson = z.infer<typeof cardJsonSchema>;

const createBodySchema = z.object({ type: z.literal('card_json'), data: z.string() });
const sequenceSchema = z.int();
const contentBodySchema = z.object({ content: z.string(), sequence: sequenceSchema, uuid: z.optional(z.string()) });
const updateBodySchema = z.object({
  card: z.object({ type: z.literal('card_json'), data: z.string() }),
  sequence: sequenceSchema,
});
const settingsBodySchema = z.object({ settings: z.string(), sequence: sequenceSchema });
const settingsSchema = z.object({
  config: z.optional(z.object({ streaming_mode: z.optional(z.boolean()), summary: z.optional(z.unknown()) })),
});

/** What a message send needs from the store: the card it names, or the refusal to answer. */
export type CardForMessage =
  | {
      readonly ok: true;
      readonly text: string;
      /** Who the card's markdown notifies (`<at id=…>`), read as the client would. */
      readonly mentions: readonly string[];
      readonly streaming: boolean;
      readonly markSent: (id: string) => void;
    }
  | { readonly ok: false; readonly response: EmulatedApiResponse };

export interface CardKitStore {
  /** Serves `/open-apis/cardkit/v1/cards…`; undefined for other paths. Auth and faults are checked by the caller. */
  handle(request: EmulatedApiRequest, ctx: EmulatorContext): EmulatedApiResponse | undefined;
  /** Resolves an `interactive` message's `content` to a sendable card entity. */
  cardForMessage(content: string, ctx: EmulatorContext): CardForMessage;
}

export function createCardKitStore(): CardKitStore {
  const cards = new Map<string, CardEntity>();

  /** Streaming auto-closes 10 min (scaled) after it was last turned on; the delivery then shows as finished. */
  function streamingNow(card: CardEntity, ctx: EmulatorContext): boolean {
    if (card.streaming && ctx.now() - card.streamingSince >= FEISHU_STREAMING_WINDOW_MS / ctx.clockScale) {
      card.streaming = false;
      if (card.messageId) ctx.update('feishu', card.messageId, { stream: 'finished' });
    }
    return card.streaming;
  }

  /** Sliding one-second window over this card's operations; every attempt counts. */
  function overLimit(card: CardEntity, now: number): boolean {
    card.recentOps = card.recentOps.filter((at) => at > now - 1000);
    card.recentOps.push(now);
    return card.recentOps.length > FEISHU_CARD_OPS_PER_SECOND;
  }

  /** The sequence rule shared by every card op; the value is taken only when the op is accepted. */
  function sequenceRefused(card: CardEntity, sequence: number): EmulatedApiResponse | undefined {
    if (sequence >= 1 && sequence > card.lastSequence) return undefined;
    return fail(400, CARDKIT_CODES.sequenceCompareFailed, 'sequence number compare failed');
  }

  function create(request: EmulatedApiRequest, ctx: EmulatorContext): EmulatedApiResponse {
    const body = createBodySchema.safeParse(parseJson(request.body.toString('utf8')));
    if (!body.success) return fail(400, CARDKIT_CODES.invalidCard, 'field validation failed');
    const parsed = readCardJson(body.data.data);
    if (!parsed.ok) return parsed.response;
    const id = `7${String(randomInt(1e9)).padStart(9, '0')}${String(randomInt(1e9)).padStart(9, '0')}`;
    cards.set(id, {
      id,
      content: cardText(parsed.card),
      elementIds: elementIds(parsed.card),
      lastSequence: 0,
      streaming: parsed.card.config?.streaming_mode === true,
      streamingSince: ctx.now(),
      recentOps: [],
    });
    return ok({ card_id: id });
  }

  function content(card: CardEntity, elementId: string, request: EmulatedApiRequest, ctx: EmulatorContext) {
    const body = contentBodySchema.safeParse(parseJson(request.body.toString('utf8')));
    if (!body.success) return fail(400, CARDKIT_CODES.invalidCard, 'field validation failed');
    if (!card.elementIds.includes(elementId)) return fail(400, CARDKIT_CODES.elementNotFound, 'element not found');
    const refused = sequenceRefused(card, body.data.sequence);
    if (refused) return refused;
    if (!streamingNow(card, ctx)) return fail(400, CARDKIT_CODES.streamingClosed, 'streaming mode is closed');
    card.lastSequence = body.data.sequence;
    card.content = body.data.content;
    if (card.messageId) ctx.update('feishu', card.messageId, { text: renderCardMarkdown(card.content) });
    return ok({});
  }

  /** Full update: the whole card replaced; works whether or not streaming is on, and turns it on or off. */
  function update(card: CardEntity, request: EmulatedApiRequest, ctx: EmulatorContext) {
    const body = updateBodySchema.safeParse(parseJson(request.body.toString('utf8')));
    if (!body.success) return fail(400, CARDKIT_CODES.invalidCard, 'field validation failed');
    const parsed = readCardJson(body.data.card.data);
    if (!parsed.ok) return parsed.response;
    const refused = sequenceRefused(card, body.data.sequence);
    if (refused) return refused;
    const wasStreaming = streamingNow(card, ctx);
    card.lastSequence = body.data.sequence;
    card.content = cardText(parsed.card);
    card.elementIds = elementIds(parsed.card);
    card.streaming = parsed.card.config?.streaming_mode === true;
    if (card.streaming && !wasStreaming) card.streamingSince = ctx.now();
    if (card.messageId) {
      ctx.update('feishu', card.messageId, {
        text: renderCardMarkdown(card.content),
        stream: card.streaming ? 'streaming' : 'finished',
      });
    }
    return ok({});
  }

  /** `settings`: only `config.streaming_mode` under the `config` wrapper acts; without it the call is a no-op. */
  function settings(card: CardEntity, request: EmulatedApiRequest, ctx: EmulatorContext) {
    const body = settingsBodySchema.safeParse(parseJson(request.body.toString('utf8')));
    const inner = body.success ? settingsSchema.safeParse(parseJson(body.data.settings)) : undefined;
    if (!body.success || !inner?.success) return fail(400, CARDKIT_CODES.invalidCard, 'field validation failed');
    if (inner.data.config?.summary !== undefined) {
      return fail(400, CARDKIT_CODES.settingsRefused, 'summary is not allowed in settings');
    }
    const refused = sequenceRefused(card, body.data.sequence);
    if (refused) return refused;
    const wasStreaming = streamingNow(card, ctx);
    card.lastSequence = body.data.sequence;
    const mode = inner.data.config?.streaming_mode;
    if (mode !== undefined) {
      card.streaming = mode;
      if (mode && !wasStreaming) card.streamingSince = ctx.now();
      if (card.messageId) ctx.update('feishu', card.messageId, { stream: mode ? 'streaming' : 'finished' });
    }
    return ok({});
  }

  return {
    handle(request, ctx) {
      if (request.method === 'POST' && request.path === '/open-apis/cardkit/v1/cards') return create(request, ctx);
      const match = /^\/open-apis\/cardkit\/v1\/cards\/([^/]+)(\/settings|\/elements\/([^/]+)\/content)?$/.exec(
        request.path,
      );
      if (!match?.[1]) return undefined;
      const card = cards.get(decodeURIComponent(match[1]));
      if (!card) return fail(400, CARDKIT_CODES.cardNotFound, 'card not found');
      if (overLimit(card, ctx.now())) {
        return {
          ...fail(429, CARDKIT_CODES.rateLimited, 'request trigger frequency limit'),
          headers: { ...JSON_HEADERS, 'x-ogw-ratelimit-limit': String(FEISHU_CARD_OPS_PER_SECOND) },
        };
      }
      const element = match[3];
      if (element !== undefined && request.method === 'PUT') {
        return content(card, decodeURIComponent(element), request, ctx);
      }
      if (match[2] === '/settings' && request.method === 'PATCH') return settings(card, request, ctx);
      if (match[2] === undefined && request.method === 'PUT') return update(card, request, ctx);
      return fail(404, 404, 'not found');
    },
    cardForMessage(messageContent, ctx) {
      const parsed = parseJson(messageContent);
      const named = z.object({ type: z.literal('card'), data: z.object({ card_id: z.string() }) }).safeParse(parsed);
      if (!named.success) {
        // A bare `{"card_id":…}` (or any other shape) is not a card reference (doc §1.1 step 2, nanobot#2382).
        return {
          ok: false,
          response: fail(400, 200621, 'parse card json err, please check whether the card json is correct'),
        };
      }
      const card = cards.get(named.data.data.card_id);
      if (!card) {
        // ISS zarazhangrui/lark-coding-agent-bridge#163.
        return {
          ok: false,
          response: fail(400, 230099, 'Failed to create card content, ext=ErrCode: 11310; ErrMsg: cardid is invalid'),
        };
      }
      if (card.messageId) {
        // An entity can be sent once (doc §1.1 step 1); the code for a second send is [U].
        return {
          ok: false,
          response: fail(400, 230099, 'Failed to create card content, ext=ErrMsg: card entity has been sent'),
        };
      }
      return {
        ok: true,
        text: renderCardMarkdown(card.content),
        mentions: feishuMentions(card.content),
        streaming: streamingNow(card, ctx),
        markSent: (id) => {
          card.messageId = id;
        },
      };
    },
  };
}

/** Card-markdown mentions (`<at id=ou_…></at>`) shown as `@ou_…`, like the text renderer shows `user_id` tags. */
export function renderCardMarkdown(markdown: string): string {
  return markdown.replace(/<at id=([^\s>]+)><\/at>/g, '@$1');
}

function readCardJson(data: string): { ok: true; card: CardJson } | { ok: false; response: EmulatedApiResponse } {
  const card = cardJsonSchema.safeParse(parseJson(data));
  if (!card.success) return { ok: false, response: fail(400, CARDKIT_CODES.invalidCard, 'field validation failed') };
  // Shared cards only: `update_multi: false` is refused (doc §1.1 step 1).
  if (card.data.config?.update_multi === false) {
    return { ok: false, response: fail(400, CARDKIT_CODES.invalidCard, 'update_multi must not be false') };
  }
  const ids = elementIds(card.data);
  if (new Set(ids).size !== ids.length) {
    // ISS baileyh8/hermes-feishu-streaming-card#306.
    return { ok: false, response: fail(400, 300301, 'Duplicate element_id in card component') };
  }
  return { ok: true, card: card.data };
}

function elementIds(card: CardJson): string[] {
  return card.body.elements.flatMap((e) => (e.element_id === undefined ? [] : [e.element_id]));
}

function cardText(card: CardJson): string {
  return card.body.elements
    .filter((e) => e.tag === 'markdown')
    .map((e) => e.content ?? '')
    .join('\n');
}

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8' };

function ok(data: object): EmulatedApiResponse {
  return { statusCode: 200, headers: JSON_HEADERS, body: JSON.stringify({ code: 0, msg: 'success', data }) };
}

function fail(statusCode: number, code: number, msg: string): EmulatedApiResponse {
  return { statusCode, headers: JSON_HEADERS, body: JSON.stringify({ code, msg }) };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
