import type { ImageDeliveryFailure, ReplyImage } from '#core/reply-image';
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
  /**
   * Files the member shared with the message (Slack `files`; Feishu a `file` message, or the file message this one
   * replies to; DingTalk `msgtype: file`, or the file a reply quotes; WeCom `file`, or a `quote` of one). Only
   * references: the bytes stay on the platform until a skill that accepts files needs them (`downloadAttachment`).
   * A voice message's audio is one too (`kind: 'audio'`), fetched by the worker's voice step.
   */
  readonly attachments?: readonly MessageAttachment[];
}

/** Most attachments one message carries into the queue; more are dropped by the parser (a message names its first). */
export const MAX_MESSAGE_ATTACHMENTS = 4;

/** A file shared in the chat, as the adapter that parsed the message can fetch it again. Serialisable. */
export interface MessageAttachment {
  /**
   * `file`: a shared file, for a skill that reads files. `audio`: a voice message (Feishu `audio`, a Slack `audio/*`
   * file), which the worker transcribes into the member's question (docs/VOICE.md); skills never receive it.
   */
  readonly kind: 'file' | 'audio';
  /** The file name the member sees (WeCom sends none: the adapter names it `file`). */
  readonly name: string;
  /** Bytes, when the platform says. */
  readonly size?: number;
  /**
   * What the adapter needs to download it, opaque to the core: Slack's `url_private_download`; Feishu's message id
   * and file key (or only the id of the message replied to); DingTalk's `downloadCode` and robot code; WeCom's
   * (encrypted, short-lived) file URL.
   */
  readonly ref: string;
  /**
   * The message this one replies to or quotes, which may hold a file: the adapter finds out when it downloads (a
   * reply to a text message holds none: `no_file`, and the message is answered as if it had no attachment).
   */
  readonly quoted?: boolean;
}

/** A downloaded file: its bytes, and its name as the platform tells it at download (a quoted file's). */
export interface DownloadedFile {
  readonly name: string;
  readonly bytes: Uint8Array;
}

/** Why a shared file could not be fetched (`AttachmentError`, `shared/download.ts`). */
export type AttachmentErrorCode =
  /** Over the size cap (declared by the platform, or found while reading). */
  | 'too_large'
  /** The platform no longer has it, or the link expired (WeCom's URLs live 5 minutes, DingTalk's for a while). */
  | 'gone'
  /** The bot may not read it (a missing scope or permission, a file in a conversation the bot is not in). */
  | 'forbidden'
  /** The platform did not answer in time, or answered with an error that may pass. */
  | 'unavailable'
  /** The adapter cannot download files, or the reference is not one it made. */
  | 'unsupported'
  /** A `quoted` attachment whose message holds no file. */
  | 'no_file';

export interface DownloadOptions {
  /** Largest file read, bytes: more is `too_large`, and the rest is not downloaded. */
  readonly maxBytes: number;
  /** Aborts the download (the turn's deadline). */
  readonly signal: AbortSignal;
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
  /**
   * Images posted after the text (each its own message, in the same thread), where the adapter can post images;
   * others ignore them, as the text is complete alone. The text goes first: a failed image is reported in
   * `SendResult.imageFailures`, never thrown, so it cannot fail (or, through a retry, repeat) the delivered text.
   */
  readonly images?: readonly ReplyImage[];
}

/** Everything about a reply but its text and images: where it goes, its format, whom it @-mentions, its key. */
export type ReplyTarget = Omit<OutgoingReply, 'text' | 'images'>;

export interface SendResult {
  /**
   * The platform's ids of the delivered message(s), one per part when a long reply was split, then one per image
   * posted (Slack: the file id).
   */
  readonly messageIds: readonly string[];
  /** Images of the reply that could not be posted (after the call's retries); absent when none failed. */
  readonly imageFailures?: readonly ImageDeliveryFailure[];
}

/** How a reply session settles with an answer. */
export interface FinishOptions {
  /** Posted after the text, inside the same settle (`OutgoingReply.images`). */
  readonly images?: readonly ReplyImage[];
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
   * deduplicates). Only then does a worker that died mid-send get its reply re-sent. A function decides per reply
   * handle, for a platform with two reply paths of which one deduplicates (WeCom: the relay's stream overwrites, the
   * webhook's `response_url` does not). @default false
   */
  readonly idempotentSend?: boolean | ((handle: ReplyHandle) => boolean);
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
  /**
   * What the platform's directory says about a member, for profiles (docs/PROFILES.md): job title and department,
   * as the directory holds them (free text; the caller validates and masks them). Only called where the operator
   * enabled the platform's directory (`PROFILE_DIRECTORY`) and the app holds the scope it needs. Resolves to an empty
   * entry when the directory has nothing; throws `PlatformApiError` when it cannot be asked (the caller logs it and
   * answers without it). Platforms without a directory API leave it out.
   */
  lookupMember?(tenantId: string, userId: string): Promise<DirectoryEntry>;
  /**
   * The bytes of a file this adapter's `parse` attached to a message, fetched with the platform's auth and at most
   * `maxBytes` of them. Only on platforms whose messages carry attachments.
   * @throws AttachmentError (`shared/download.ts`)
   */
  downloadAttachment?(attachment: MessageAttachment, options: DownloadOptions): Promise<DownloadedFile>;
  /**
   * Posts a spoken answer (Ogg/Opus) as the platform's audio message, after the reply's text, threaded like it
   * (docs/VOICE.md). Only on platforms that can post audio (Feishu, Slack, DingTalk; not WeCom, whose AI bot takes AMR
   * only). @returns the audio message's id.
   */
  sendSpeech?(target: ReplyTarget, speech: SpokenReply): Promise<string>;
}

/** A spoken answer to post (`ChatPlatform.sendSpeech`). */
export interface SpokenReply {
  /** Ogg/Opus: what Feishu audio messages take, and what Slack and DingTalk are sent too. */
  readonly bytes: Uint8Array;
  readonly durationSeconds: number;
}

/** A member as the platform's directory knows them (`ChatPlatform.lookupMember`). */
export interface DirectoryEntry {
  readonly title?: string;
  readonly department?: string;
  /**
   * Why the directory was not asked for this member (e.g. DingTalk knows only an opaque sender id, which its
   * directory cannot look up): nothing is stored and nothing is retried, the id will not change.
   */
  readonly skipped?: string;
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
  /**
   * Delivers the complete answer, then its images (`options.images`) where the platform can post them; the result
   * names every message now holding it.
   */
  finish(fullText: string, options?: FinishOptions): Promise<SendResult>;
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
