/** Transport helpers shared by every platform adapter. */
export { getHeader } from './headers';
export { decodeJsonObject, decodeUtf8, isRecord, parseJsonObject } from './json-body';
export { askerMentionId, neutraliseBroadcastAt, neutraliseSigilTag, neutraliseTag } from './mentions';
export { openOneShotReply, ReplySessionClosedError, withOneShotReplies } from './reply-session';
export {
  capReplyChars,
  DEFAULT_REPLY_LIMITS,
  type PrepareReplyOptions,
  prepareReplyParts,
  type ReplyLimits,
  resolveReplyLimits,
  sanitizeReplyText,
  splitBoundedReply,
  TRUNCATION_NOTE,
} from './reply-text';
export { isAllowedReplyUrl, type ReplyUrlAllowlist } from './reply-url';
export {
  DEFAULT_RETRY_POLICY,
  type OutboundRequest,
  type OutboundResponse,
  type RetryPolicy,
  retryAfterMs,
  type SendDeps,
  type SendOptions,
  sendWithRetry,
} from './send-with-retry';
export { type LengthUnit, type SplitOptions, splitReply } from './split-reply';
export { assertWithinWindow, parseEpochHeader } from './timestamp-window';
export { timingSafeEqualValues } from './timing-safe';
export {
  type AccessToken,
  createTokenCache,
  type TokenCache,
  type TokenCacheOptions,
  withTokenRetry,
} from './token-cache';
