import type { PlatformName } from '#platforms/types';

/**
 * Contract of one platform's emulator (sandbox and tests only; production bundles never import `sandbox/`).
 * An emulator plays the platform on both sides: it builds inbound webhook requests signed/encrypted exactly as
 * the platform does, and it serves the token and send-message APIs the adapter calls, recording deliveries.
 */

/** One reply the bot delivered, as `GET /_sandbox/messages` lists it (ARCHITECTURE §4.2). */
export interface EmulatedDelivery {
  readonly platform: PlatformName;
  readonly chatId: string;
  readonly text: string;
  /** The platform event or message id replied to, when the API call names one. */
  readonly replyTo?: string;
  readonly threadId?: string;
  /** ISO time. */
  readonly at: string;
  /** The platform's message id the emulator assigned. */
  readonly messageId: string;
  /** Who the platform would notify (`all` for a broadcast), read off the wire body (`live-mentions.ts`). */
  readonly mentions?: readonly string[];
  /**
   * A streamed reply: `streaming` while the platform would show it as still being written, then `finished` or
   * `failed`. Absent for plain messages.
   */
  readonly stream?: 'streaming' | 'finished' | 'failed';
  /** How many times the text was replaced after the first record (stream updates, edits). */
  readonly updates?: number;
  /** ISO time of the last change. */
  readonly updatedAt?: string;
  /** An image message (a chart the bot uploaded): the stored file; `text` is then its alt text or title. */
  readonly image?: EmulatedImage;
  /** An audio message (a spoken answer the bot uploaded): the stored file; `text` is the platform's preview. */
  readonly audio?: EmulatedAudio;
}

/** A spoken answer the bot posted, as the emulated platform stored it. */
export interface EmulatedAudio {
  readonly mediaType: 'audio/ogg';
  /** The file, base64. */
  readonly data: string;
  /** As the upload declared it. */
  readonly durationMs: number;
}

/** An image the bot posted, as the emulated platform stored it. */
export interface EmulatedImage {
  readonly mediaType: 'image/png';
  /** The file, base64. */
  readonly data: string;
  readonly alt: string;
  readonly width: number;
  readonly height: number;
}

/** A change to a recorded delivery: new text and/or stream state. */
export interface DeliveryPatch {
  readonly text?: string;
  readonly stream?: 'streaming' | 'finished' | 'failed';
}

/** The platform credentials both the emulator and the adapter under test use (sandbox defaults or env). */
export interface EmulatorCredentials {
  readonly feishu: {
    appId: string;
    appSecret: string;
    verificationToken: string;
    encryptKey: string;
    botOpenId: string;
  };
  readonly slack: {
    signingSecret: string;
    botToken: string;
    botUserId: string;
    /** Socket Mode's app-level token (`xapp-…`); the long-connection emulator accepts only this one. */
    appToken?: string;
  };
  readonly dingtalk: { appKey: string; appSecret: string; robotCode: string };
  readonly wecom: {
    token: string;
    encodingAesKey: string;
    botId: string;
    /** The long connection's `aibot_subscribe` secret; the AI-bot socket emulator accepts only this one. */
    botSecret?: string;
    /** The member directory's self-built app (`gettoken`); without them the emulator refuses every token. */
    directoryCorpId?: string;
    directoryCorpSecret?: string;
  };
}

export interface EmulatorContext {
  /** Absolute base URL of this platform's emulated API, e.g. `http://127.0.0.1:3000/_emulator/slack`. */
  readonly apiBaseUrl: string;
  readonly credentials: EmulatorCredentials;
  readonly now: () => number;
  /** Records one delivered message (the emulator assigns `at`). */
  record(delivery: Omit<EmulatedDelivery, 'at' | 'updates' | 'updatedAt'>): void;
  /**
   * Changes a recorded delivery (a streamed reply growing, an edit, a stream closing); the web page shows it live.
   * Returns false when no delivery has that `messageId`.
   */
  update(platform: PlatformName, messageId: string, patch: DeliveryPatch): boolean;
  /**
   * Platform time limits run this many times faster (streaming windows such as Feishu's 10 minutes or WeCom's 6);
   * 1 in production-like runs. Rate limits (per second) are not scaled.
   */
  readonly clockScale: number;
  /** Posts a request to the bot's webhook as the platform would (WeCom's stream refresh callbacks). */
  postWebhook(request: EmulatedRequest): Promise<EmulatedApiResponse>;
  /**
   * Fault injection for send APIs: asked once per send call; `429` answers with `Retry-After`, `5xx` with 500,
   * `expired-token` with the platform's expired-token error. Default: always `none`.
   */
  readonly fault?: () => 'none' | '429' | '5xx' | 'expired-token';
}

export interface InboundMessageInput {
  readonly chatId: string;
  readonly userId: string;
  readonly text: string;
  /** Default true. */
  readonly mentionBot?: boolean;
  readonly threadId?: string;
  /** Reuse an id to model the platform's re-delivery of the same event. */
  readonly eventId?: string;
  /** Direct message instead of a group message. */
  readonly direct?: boolean;
  /**
   * Files the member shares with the message: the emulator keeps them, builds the platform's own file-message shape
   * (Slack `files` on a `file_share` message; Feishu a `file` message; DingTalk `msgtype: file`; WeCom `file`) and
   * serves the platform's download API for them, with its auth.
   */
  readonly files?: readonly EmulatedFile[];
}

/** A file a member shares in an emulated chat. */
export interface EmulatedFile {
  readonly name: string;
  readonly bytes: Buffer;
}

export interface EmulatedRequest {
  readonly method: 'GET' | 'POST';
  /** Path on the webhook server, e.g. `/webhook/slack`. */
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
  /** The platform event id (dedup key) the request carries. */
  readonly eventId: string;
  /** The platform's id of the member's message it carries (Slack `ts`, Feishu `message_id`), where replies name it. */
  readonly messageId?: string;
}

export interface EmulatedApiRequest {
  readonly method: string;
  /** Path below `apiBaseUrl`, starting with `/`. */
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

export interface EmulatedApiResponse {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** Binary answers (a file download): the bytes sent instead of `body`. */
  readonly bytes?: Buffer;
}

export interface PlatformEmulator {
  readonly platform: PlatformName;
  /** Builds the webhook request for one member's message exactly as the platform sends it. */
  buildMessageEvent(input: InboundMessageInput, ctx: EmulatorContext): EmulatedRequest;
  /** Builds the platform's URL-verification handshake request. */
  buildHandshake(ctx: EmulatorContext): EmulatedRequest;
  /** Serves the token and send-message APIs the adapter calls. Unknown paths answer 404. */
  handleApi(request: EmulatedApiRequest, ctx: EmulatorContext): Promise<EmulatedApiResponse>;
  /**
   * Sees the webhook's answer to an event this emulator built (WeCom: a passive `stream` reply starts the refresh
   * loop). Runs in the background; must not throw.
   */
  onWebhookResponse?(request: EmulatedRequest, response: EmulatedApiResponse, ctx: EmulatorContext): void;
}
