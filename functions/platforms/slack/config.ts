import type { ReplyLimits } from '#platforms/shared/reply-text';

/** Credentials of one Slack app installation. Secrets come from Secrets Manager (or sandbox defaults). */
export interface SlackConfig {
  /** "Signing Secret" from the app's Basic Information; keys `X-Slack-Signature`. */
  readonly signingSecret: string;
  /** Bot token (`xoxb-…`) sent as a bearer token to `chat.postMessage`. */
  readonly botToken: string;
  /** The bot's user id (`U…`); `<@U…>` in text is a bot mention only when it names this id. */
  readonly botUserId: string;
  /** @default 'https://slack.com' (sandbox: its emulator) */
  readonly apiBaseUrl?: string;
  /** Accepted skew of `X-Slack-Request-Timestamp`; Slack's documented window. @default 300000 */
  readonly replayWindowMs?: number;
  /** Bounds on one outbound answer; unset fields take `DEFAULT_REPLY_LIMITS` (8000 characters, 4 messages). */
  readonly replyLimits?: Partial<ReplyLimits>;
}

export const SLACK_DEFAULT_API_BASE_URL = 'https://slack.com';
export const SLACK_DEFAULT_REPLAY_WINDOW_MS = 300_000;

/**
 * Slack truncates `text` over 40,000 characters and recommends staying under 4,000 for readability; parts of at
 * most 3,900 characters leave room for the `<@U…> ` mention in front of the first one.
 */
export const SLACK_TEXT_LIMIT_CHARS = 3_900;
