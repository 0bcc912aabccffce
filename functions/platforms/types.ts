import type * as z from '#shared/zod';
import type { StreamSnapshotStore } from '#stores/stream-snapshots';
import type { PLATFORM_MANIFESTS } from './manifests';

/**
 * The one interface every chat platform adapter implements. Adapters do transport work only: verify, decrypt,
 * answer handshakes, parse, normalise, send. The core never sees a platform's wire format.
 */

/**
 * The chat platforms, named once. Config schemas take their enums from here (`z.enum(PLATFORMS)`); `registry.ts`
 * must then hold one descriptor per name (a missing one is a compile error).
 */
export const PLATFORMS = ['feishu', 'slack', 'dingtalk', 'wecom'] as const;
export type PlatformName = (typeof PLATFORMS)[number];

type ReplyHandleSchemas = (typeof PLATFORM_MANIFESTS)[PlatformName]['replyHandleSchema'];

/** What ledger rows, keys and opt-out lists name for REST (`/v1/chat`) callers: a platform of their own. */
export const API_PLATFORM = 'api';
/** Every platform a ledger row (or an answer) can name: the four chat platforms and `api`. */
export const LEDGER_PLATFORMS = [...PLATFORMS, API_PLATFORM] as const;
export type LedgerPlatform = (typeof LEDGER_PLATFORMS)[number];

export function isPlatformName(value: string): value is PlatformName {
  return (PLATFORMS as readonly string[]).includes(value);
}

/** An inbound HTTP request as the webhook received it. */
export interface RawRequest {
  readonly method: 'GET' | 'POST';
  /** Header names lower-cased; values as received. */
  readonly headers: Readonly<Record<string, string>>;
  /** Query string parameters, URL-decoded once. */
  readonly query: Readonly<Record<string, string>>;
  /** The exact body bytes (API Gateway base64 bodies decoded to bytes, never through a text codec). */
  readonly body: Buffer;
}

export interface HttpResponse {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/**
 * Where and how a reply goes back. Serialisable: it travels through SQS to the worker. Declared once, as the union of
 * the platforms' zod schemas (`<platform>/reply-handle.ts`, listed by `manifests.ts`).
 */
export type ReplyHandle = Readonly<z.infer<ReplyHandleSchemas>>;

/** One normalised group or direct message. Field comments name the platform fields they come from. */
export interface IncomingMessage {
  readonly platform: PlatformName;
  /** Feishu `header.tenant_key`; Slack `team_id`; DingTalk `chatbotCorpId`; WeCom `aibotid`/corp. */
  readonly tenantId: string;
  /** Feishu `chat_id`; Slack `channel`; DingTalk `conversationId`; WeCom `chatid` (or the sender for a DM). */
  readonly chatId: string;
  readonly chatType: 'group' | 'direct';
  /** Feishu `root_id`/`thread_id`; Slack `thread_ts`; absent where the platform has no threads. */
  readonly threadId?: string;
  /** Feishu `sender_id.open_id`; Slack `user`; DingTalk `senderStaffId`/`senderId`; WeCom `from.userid`. */
  readonly senderId: string;
  readonly senderName?: string;
  /** Dedup key: Feishu `header.event_id`; Slack `event_id`; DingTalk `msgId`; WeCom `msgid`. */
  readonly eventId: string;
  /** The platform's id of the message itself. */
  readonly messageId: string;
  /** The text with the bot's own @-mention removed; other mentions kept readable (`@Name`). */
  readonly text: string;
  /** The bot was @-mentioned, decided by bot id, never by display name. */
  readonly mentionedBot: boolean;
  /** When the platform says the message was sent, epoch ms. */
  readonly timestamp: number;
  readonly replyHandle: ReplyHandle;
}

/**
 * The result of `parse`: a handshake is answered directly, a message goes on to the core, anything else is
 * acknowledged with 200 and logged with its reason.
 */
export type ParseResult =
  | { readonly kind: 'handshake'; readonly response: HttpResponse }
  | {
      readonly kind: 'message';
      readonly message: IncomingMessage;
      /** What the platform expects as the HTTP answer to an accepted event, when not a plain 200 `{}`. */
      readonly ack?: HttpResponse;
      /**
       * The answer when the core does not act on the message (trigger rules), where `ack` would promise a reply
       * (WeCom's passive `stream` reply makes the platform poll for one). Default: `ack`.
       */
      readonly ignoredAck?: HttpResponse;
    }
  /**
   * The platform polls for the current text of a stream the webhook started (WeCom's 流式消息刷新). Answered at once by
   * `ChatPlatform.answerStreamRefresh`; never enqueued.
   */
  | { readonly kind: 'stream_refresh'; readonly streamId: string }
  | { readonly kind: 'ignored'; readonly reason: string; readonly eventId?: string };

export interface OutgoingReply {
  readonly handle: ReplyHandle;
  readonly text: string;
  readonly format: 'text' | 'markdown';
  /** Platform user id to @-mention at the start of a group reply. */
  readonly mentionUserId?: string;
  /** Stable per event; passed to APIs that accept one (Feishu `uuid`) so a retried send is not doubled. */
  readonly idempotencyKey: string;
}

/** Everything about a reply but its text: where it goes, its format, whom it @-mentions, its idempotency key. */
export type ReplyTarget = Omit<OutgoingReply, 'text'>;

export interface SendResult {
  /** The platform's ids of the delivered message(s), one per part when a long reply was split. */
  readonly messageIds: readonly string[];
}

/** Injected so adapters are testable and retries do not really sleep in unit tests. */
export interface AdapterDeps {
  readonly fetch: typeof fetch;
  /** Epoch ms. */
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  /**
   * Where pull-model streams keep their latest text (WeCom webhook mode: the worker writes, the webhook answers the
   * platform's refresh callbacks from it). Without it such platforms do not stream.
   */
  readonly streamSnapshots?: StreamSnapshotStore;
}

export interface ChatPlatform {
  readonly name: PlatformName;
  /**
   * `send` may be repeated with the same `idempotencyKey` without a second message reaching the chat (the platform
   * deduplicates). Only then does a worker that died mid-send get its reply re-sent. @default false
   */
  readonly idempotentSend?: boolean;
  /**
   * Verifies and parses one inbound request. Throws `SignatureError`, `ReplayError`, `MalformedEventError` or
   * `PayloadTooLargeError`; returns `ignored` for events GroupGate does not act on.
   * @param now epoch ms, injected so the timestamp window is testable.
   */
  parse(request: RawRequest, now: number): ParseResult;
  /** Delivers a reply, splitting it at the platform's limit; retries 429/5xx honouring `Retry-After`. */
  send(reply: OutgoingReply): Promise<SendResult>;
  /**
   * Parses one event that arrived over the platform's long connection (`functions/connector/`) into what `parse` gives
   * for the same event as a webhook request: Slack Socket Mode's `events_api` payload is the Events API body, DingTalk
   * Stream's CALLBACK `data` is the robot message body, a Feishu `event` data frame is the schema 2.0 event body in
   * plaintext. No signature or timestamp check, on purpose: these events carry none. The socket they came on was
   * opened with a URL or single-use ticket that only the app's own credentials buy (Slack: the `xapp-` app token;
   * DingTalk: clientId + clientSecret; Feishu: App ID + App Secret), over TLS, by the connector itself (an outbound
   * connection from the private network), so every frame on it is the platform's. Nothing reachable from outside
   * calls this. Platforms without a long-connection client leave it out.
   * @param payload the event body, already JSON-decoded from its frame.
   * @param now epoch ms.
   * @throws MalformedEventError when the payload is not the platform's event shape.
   */
  parseConnectionEvent?(payload: unknown, now: number): ParseResult;
  /**
   * The platform can stream a reply (`openReply` with `stream: true`) on a surface whose id is derived from the event
   * id or recorded through `onOpened` before its first visible text, so a redelivery resumes that surface
   * (`OpenReplyOptions.resume`) instead of posting a second message. Only such platforms are streamed to.
   */
  readonly streaming?: boolean;
  /**
   * Opens a reply that grows while the answer is produced (`update`), then settles once (`finish` or `fail`). Without
   * `stream` (or on a platform that cannot stream) the session is one-shot (`shared/reply-session.ts`): nothing
   * reaches the chat before it settles, then one `send`. Streaming sessions (`shared/streaming-session.ts`) make no
   * visible call before the first `update`, so an answer that is complete at once (cache, skills) is one plain
   * message, never an empty card. See `shared/reply-session.ts` for the exactly-once contract.
   */
  openReply(target: ReplyTarget, options?: OpenReplyOptions): Promise<ReplySession>;
  /**
   * The HTTP answer to a `stream_refresh` callback: the stream's current full snapshot, as the platform expects it
   * (WeCom: an encrypted passive `stream` reply). Only on platforms whose `parse` returns `stream_refresh`.
   * @param now epoch ms.
   */
  answerStreamRefresh?(streamId: string, now: number): Promise<HttpResponse>;
}

/**
 * The platform object a streaming reply writes into, recorded on the event (`EventStore.markReplyOpened`) before its
 * first visible text so a redelivery can finish it: Feishu's card entity id, DingTalk's `outTrackId`, Slack's
 * message `ts`, WeCom's `stream.id`. Serialisable.
 */
export interface OpenedSurface {
  readonly id: string;
  /** Epoch ms the surface was created (Feishu derives its per-card `sequence` from it; sweeper deadlines). */
  readonly openedAt: number;
}

export interface OpenReplyOptions {
  /** Stream this reply (the group's setting). Ignored by platforms that cannot stream. */
  readonly stream?: boolean;
  /** The surface an earlier attempt opened for this event: the session overwrites it with the full text. */
  readonly resume?: OpenedSurface;
  /**
   * Called (and awaited) once the session has created its surface and before its first visible text, so the worker
   * records it; a rejection abandons the surface (the session falls back to one plain message at settle).
   */
  readonly onOpened?: (surface: OpenedSurface) => Promise<void>;
  /** Called once with the epoch ms at which the platform accepted the first visible text of the reply. */
  readonly onFirstVisible?: (at: number) => void;
}

/**
 * One reply in progress. `update` takes the whole text so far (not a delta), so a lost or coalesced update never
 * corrupts the message. The session settles exactly once: after `finish` or `fail` has been called (whether or not
 * its platform call succeeded) every further call rejects with `ReplySessionClosedError`.
 */
export interface ReplySession {
  /** Platform API calls this session has made so far (metric `PlatformCallsPerReply`), retries included. */
  readonly platformCalls: number;
  /** The answer so far. A streaming session may show it (throttled); a one-shot session only keeps it. */
  update(fullTextSoFar: string): Promise<void>;
  /** Delivers the complete answer; the result names every message now holding it. */
  finish(fullText: string): Promise<SendResult>;
  /** Ends the reply with a short note instead of an answer (the model could not answer). */
  fail(note: string): Promise<SendResult>;
  /**
   * The attempt gives up without settling (it failed, crashed or lost its claim): no platform call starts after this,
   * and the call in flight is awaited — an open and its `onOpened` record included — so a surface that became visible
   * is recorded before the event is released, and the redelivery resumes it instead of showing a second reply.
   * Never throws; later calls throw `ReplySessionClosedError`.
   */
  abandon(): Promise<void>;
}
