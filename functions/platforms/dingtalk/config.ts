import { ConfigError } from '#core/errors';
import type { ReplyUrlAllowlist } from '#platforms/shared/index';
import { type ReplyLimits, resolveReplyLimits } from '#platforms/shared/reply-text';
import { deriveAesKey } from '#platforms/wecom/biz-msg-crypt';

/** Settings of one DingTalk enterprise-internal app robot in HTTP callback mode. */
export interface DingTalkConfig {
  /** The app's `AppKey` (a.k.a. Client ID). */
  readonly appKey: string;
  /** The app's `AppSecret`; signs robot callbacks and buys access tokens. */
  readonly appSecret: string;
  /**
   * The robot's `robotCode`, used when the event does not name one.
   * @default appKey (an enterprise-internal app's robot code equals its AppKey)
   */
  readonly robotCode?: string;
  /**
   * The robot's display name, used only to remove "@Name" from the text. Without it, the text's single mention is
   * removed when the event says the robot is the only user mentioned.
   */
  readonly botName?: string;
  /** @default 'https://api.dingtalk.com' */
  readonly apiBaseUrl?: string;
  /**
   * Origins an event's `sessionWebhook` may point at (SSRF guard); any other sessionWebhook is dropped and the
   * reply goes through the robot group-message API instead.
   * @default { origins: ['https://oapi.dingtalk.com'] }
   */
  readonly replyUrls?: ReplyUrlAllowlist;
  /**
   * Largest clock difference accepted for the `timestamp` header; DingTalk's documented window is 1 hour.
   * @default 3600000
   */
  readonly timestampWindowMs?: number;
  /**
   * Event-subscription callback crypto (DingCallbackCrypto), only when the app also subscribes to events over
   * HTTP: `token` and the 43-character `aesKey` from the app's event settings; `ownerKey` ends every payload.
   */
  readonly callbackCrypto?: { readonly token: string; readonly aesKey: string; readonly ownerKey?: string };
  /** Bounds on one outbound answer; unset fields take `DEFAULT_REPLY_LIMITS` (8000 characters, 4 messages). */
  readonly replyLimits?: Partial<ReplyLimits>;
}

export const DINGTALK_API_BASE_URL = 'https://api.dingtalk.com';
export const DINGTALK_SESSION_WEBHOOK_ORIGIN = 'https://oapi.dingtalk.com';

export interface ResolvedDingTalkConfig {
  readonly appKey: string;
  readonly appSecret: string;
  readonly robotCode: string;
  readonly botName: string | undefined;
  readonly apiBaseUrl: string;
  readonly replyUrls: ReplyUrlAllowlist;
  readonly timestampWindowMs: number;
  readonly callbackCrypto: { readonly token: string; readonly aesKey: Buffer; readonly ownerKey: string } | undefined;
  readonly replyLimits: ReplyLimits;
}

/** Validates once per cold start, reporting every problem at once. @throws ConfigError */
export function resolveDingTalkConfig(config: DingTalkConfig): ResolvedDingTalkConfig {
  const problems: string[] = [];
  if (!config.appKey) problems.push('DingTalk appKey is required');
  if (!config.appSecret) problems.push('DingTalk appSecret is required');
  const apiBaseUrl = (config.apiBaseUrl ?? DINGTALK_API_BASE_URL).replace(/\/+$/, '');
  if (!URL.canParse(apiBaseUrl)) problems.push(`DingTalk apiBaseUrl ${apiBaseUrl} is not a URL`);
  let callbackCrypto: ResolvedDingTalkConfig['callbackCrypto'];
  if (config.callbackCrypto) {
    if (!config.callbackCrypto.token) problems.push('DingTalk callbackCrypto.token is required');
    try {
      const aesKey = deriveAesKey(config.callbackCrypto.aesKey, 'DingTalk callbackCrypto.aesKey');
      callbackCrypto = {
        token: config.callbackCrypto.token,
        aesKey,
        ownerKey: config.callbackCrypto.ownerKey ?? config.appKey,
      };
    } catch (err) {
      problems.push(...(err instanceof ConfigError ? err.problems : [String(err)]));
    }
  }
  if (problems.length > 0) {
    throw new ConfigError(problems);
  }
  return Object.freeze({
    appKey: config.appKey,
    appSecret: config.appSecret,
    robotCode: config.robotCode ?? config.appKey,
    botName: config.botName || undefined,
    apiBaseUrl,
    replyUrls: config.replyUrls ?? { origins: [DINGTALK_SESSION_WEBHOOK_ORIGIN] },
    timestampWindowMs: config.timestampWindowMs ?? 3_600_000,
    callbackCrypto,
    replyLimits: resolveReplyLimits(config.replyLimits),
  });
}
