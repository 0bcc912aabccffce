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
  /**
   * AI-card template (`DINGTALK_CARD_TEMPLATE_ID`) with a streaming text variable; replies are streamed into it.
   * Unset or empty: replies are not streamed (one message each).
   */
  readonly cardTemplateId?: string;
  /** The template's streaming text variable (`DINGTALK_CARD_CONTENT_KEY`). @default 'msgContent' */
  readonly cardContentKey?: string;
}

export const DINGTALK_API_BASE_URL = 'https://api.dingtalk.com';
export const DINGTALK_SESSION_WEBHOOK_ORIGIN = 'https://oapi.dingtalk.com';
/** The variable DingTalk's public AI-card templates stream into. */
export const DINGTALK_DEFAULT_CARD_CONTENT_KEY = 'msgContent';
/**
 * Template ids look like `382e4302-551d-4880-bf29-a30acfab2e71.schema`; anything outside this shape (spaces, quotes,
 * a pasted URL) is a configuration mistake caught at cold start instead of as a 400 on every reply.
 */
const CARD_TEMPLATE_ID_SHAPE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** A template variable name; `flowStatus` is the card's state, never its text. */
const CARD_CONTENT_KEY_SHAPE = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** The AI card replies stream into. */
export interface DingTalkCardConfig {
  readonly templateId: string;
  readonly contentKey: string;
}

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
  /** Present only when a template is configured: then, and only then, replies are streamed. */
  readonly card: DingTalkCardConfig | undefined;
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
  const card = resolveCard(config, problems);
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
    card,
  });
}

function resolveCard(config: DingTalkConfig, problems: string[]): DingTalkCardConfig | undefined {
  const contentKey = config.cardContentKey || DINGTALK_DEFAULT_CARD_CONTENT_KEY;
  if (!CARD_CONTENT_KEY_SHAPE.test(contentKey) || contentKey === 'flowStatus') {
    problems.push(
      `DingTalk cardContentKey (DINGTALK_CARD_CONTENT_KEY) ${JSON.stringify(contentKey)} is not a card template variable name`,
    );
  }
  const templateId = config.cardTemplateId;
  if (!templateId) return undefined;
  if (!CARD_TEMPLATE_ID_SHAPE.test(templateId)) {
    problems.push(
      `DingTalk cardTemplateId (DINGTALK_CARD_TEMPLATE_ID) ${JSON.stringify(templateId)} is not a card template id`,
    );
  }
  return { templateId, contentKey };
}
