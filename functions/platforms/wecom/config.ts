import type { StreamingConfig } from '#config/streaming';
import { ConfigError } from '#core/errors';
import type { ReplyUrlAllowlist } from '#platforms/shared/index';
import { type ReplyLimits, resolveReplyLimits } from '#platforms/shared/reply-text';
import { deriveAesKey } from './biz-msg-crypt';

/** Settings of one WeCom AI bot (智能机器人) in API mode. */
export interface WeComConfig {
  /** Callback `Token` from the bot's API settings. */
  readonly token: string;
  /** 43-character `EncodingAESKey` from the bot's API settings. */
  readonly encodingAesKey: string;
  /**
   * The receive id that ends every decrypted payload. AI bots use '' (empty); a self-built app's callbacks use the
   * corp id. Compared exactly.
   * @default ''
   */
  readonly receiveId?: string;
  /**
   * The bot's display name, used only to remove "@Name" from the text and, in groups, to tell a message that
   * mentions the bot from one that does not. Without it, a group message's single mention is taken as the bot's
   * (WeCom only delivers group messages that @-mention the bot).
   */
  readonly botName?: string;
  /**
   * Origins `response_url` may point at (SSRF guard).
   * @default { origins: ['https://qyapi.weixin.qq.com'] }
   */
  readonly replyUrls?: ReplyUrlAllowlist;
  /**
   * Largest clock difference accepted for callback timestamps. WeCom re-sends an unanswered callback within
   * seconds (three tries, 5 s apart), so genuine requests are seconds old; 5 minutes leaves room for clock skew
   * while keeping a captured request useless soon after.
   * @default 300000
   */
  readonly timestampWindowMs?: number;
  /**
   * Bounds on one outbound answer; unset fields take `DEFAULT_REPLY_LIMITS`. `maxMessages` has no effect here: a
   * `response_url` takes one message.
   */
  readonly replyLimits?: Partial<ReplyLimits>;
  /**
   * Which chats get streamed replies (`STREAMING`, `STREAMING_OPT_OUT`; the worker reads the same). A stream also
   * needs `AdapterDeps.streamSnapshots`, where the worker's text waits for WeCom's refresh callbacks.
   * @default streaming off
   */
  readonly streaming?: StreamingConfig;
  /**
   * Member directory for profiles (docs/PROFILES.md), optional: the corp id and the secret of a self-built app with
   * contact read permission (the AI bot's credentials cannot read the directory). Both or neither; without them the
   * adapter has no `lookupMember`.
   */
  readonly directoryCorpId?: string;
  readonly directoryCorpSecret?: string;
  /** Where the directory API is (`WECOM_API_BASE_URL`). @default 'https://qyapi.weixin.qq.com' */
  readonly apiBaseUrl?: string;
}

export const WECOM_REPLY_ORIGIN = 'https://qyapi.weixin.qq.com';
export const WECOM_API_BASE_URL = 'https://qyapi.weixin.qq.com';

/** The self-built app whose token reads the directory (`cgi-bin/user/get`, `cgi-bin/department/get`). */
export interface WeComDirectoryConfig {
  readonly corpId: string;
  readonly corpSecret: string;
  readonly apiBaseUrl: string;
}
/** `response_url` may be used once, within one hour of the callback. */
export const RESPONSE_URL_LIFETIME_MS = 60 * 60 * 1000;

export interface ResolvedWeComConfig {
  readonly token: string;
  readonly aesKey: Buffer;
  readonly receiveId: string;
  readonly botName: string | undefined;
  readonly replyUrls: ReplyUrlAllowlist;
  readonly timestampWindowMs: number;
  readonly replyLimits: ReplyLimits;
  readonly streaming: StreamingConfig;
  /** Present only when both directory credentials are set. */
  readonly directory: WeComDirectoryConfig | undefined;
}

/** Validates once per cold start. @throws ConfigError naming the bad setting. */
export function resolveWeComConfig(config: WeComConfig): ResolvedWeComConfig {
  if (!config.token) {
    throw new ConfigError(['WeCom token is required']);
  }
  return Object.freeze({
    token: config.token,
    aesKey: deriveAesKey(config.encodingAesKey, 'WeCom encodingAesKey'),
    receiveId: config.receiveId ?? '',
    botName: config.botName || undefined,
    replyUrls: config.replyUrls ?? { origins: [WECOM_REPLY_ORIGIN] },
    timestampWindowMs: config.timestampWindowMs ?? 300_000,
    replyLimits: resolveReplyLimits(config.replyLimits),
    streaming: config.streaming ?? { enabled: false, optOutChats: [] },
    directory: resolveDirectory(config),
  });
}

function resolveDirectory(config: WeComConfig): WeComDirectoryConfig | undefined {
  const { directoryCorpId: corpId, directoryCorpSecret: corpSecret } = config;
  if (!corpId && !corpSecret) return undefined;
  if (!corpId || !corpSecret) {
    throw new ConfigError([
      `WeCom ${corpId ? 'directoryCorpSecret' : 'directoryCorpId'} is required with ${
        corpId ? 'directoryCorpId' : 'directoryCorpSecret'
      } (the member directory needs both)`,
    ]);
  }
  const apiBaseUrl = (config.apiBaseUrl ?? WECOM_API_BASE_URL).replace(/\/+$/, '');
  if (!URL.canParse(apiBaseUrl)) throw new ConfigError([`WeCom apiBaseUrl ${apiBaseUrl} is not a URL`]);
  return { corpId, corpSecret, apiBaseUrl };
}
