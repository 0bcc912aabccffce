import type { ReplyLimits } from '#platforms/shared/reply-text';

/** Credentials and knobs of one Feishu/Lark app. Secrets come from Secrets Manager (or sandbox defaults). */
export interface FeishuConfig {
  readonly appId: string;
  readonly appSecret: string;
  /**
   * "Verification Token" from the app's event settings; when set, `header.token` (or `token` in v1 and in the URL
   * check) must equal it. Signed events are authentic without it; it is what guards an unsigned URL check.
   */
  readonly verificationToken?: string;
  /** "Encrypt Key": keys both the AES decryption and `X-Lark-Signature`. Required: unsigned events are refused. */
  readonly encryptKey: string;
  /** The bot's `open_id`; a mention counts as "@bot" only when its `id.open_id` equals this. */
  readonly botOpenId: string;
  /** @default 'https://open.feishu.cn' (Lark international: 'https://open.larksuite.com'; sandbox: its emulator) */
  readonly apiBaseUrl?: string;
  /**
   * Accepted skew of `X-Lark-Request-Timestamp`. Feishu publishes no window; 5 min matches Slack's and covers
   * clock drift, while each Feishu retry (15 s, 5 min, 1 h, 6 h) is a new, freshly signed request.
   * @default 300000
   */
  readonly replayWindowMs?: number;
  /** Bounds on one outbound answer; unset fields take `DEFAULT_REPLY_LIMITS` (8000 characters, 4 messages). */
  readonly replyLimits?: Partial<ReplyLimits>;
}

export const FEISHU_DEFAULT_API_BASE_URL = 'https://open.feishu.cn';
export const FEISHU_DEFAULT_REPLAY_WINDOW_MS = 300_000;

/**
 * Per-message byte limits. A text message's request may be 150 KB; its text travels JSON-in-JSON, where escaping
 * can grow it up to 4x, so 30,000 bytes of text stays under 150 KB in the worst case. A `post` is capped at 30 KB
 * of content; 14,000 bytes survives a 2x escaping growth.
 */
export const FEISHU_TEXT_LIMIT_BYTES = 30_000;
export const FEISHU_POST_LIMIT_BYTES = 14_000;
