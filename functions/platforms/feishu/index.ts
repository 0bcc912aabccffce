import { ENV } from '#config/env-names';
import { apiBaseUrlFrom, type PlatformDescriptor } from '#platforms/descriptor';
import { postReplyImages, withImages } from '#platforms/shared/reply-images';
import { openOneShotReply } from '#platforms/shared/reply-session';
import { resolveReplyLimits } from '#platforms/shared/reply-text';
import { countingFetch, openStreamingSession } from '#platforms/shared/streaming-session';
import { createTokenCache } from '#platforms/shared/token-cache';
import type {
  AdapterDeps,
  ChatPlatform,
  OpenReplyOptions,
  OutgoingReply,
  ReplySession,
  ReplyTarget,
} from '#platforms/types';
import { FEISHU_DEFAULT_API_BASE_URL, type FeishuConfig } from './config';
import type { feishuCredentials } from './credentials';
import { lookupFeishuMember } from './directory';
import { downloadFeishuFile } from './files';
import { feishuManifest } from './manifest';
import { parseFeishuConnectionEvent, parseFeishuRequest } from './parse';
import type { feishuReplyHandleSchema } from './reply-handle';
import { fetchTenantAccessToken, sendFeishuReply } from './send';
import { createFeishuCardOps } from './stream';
import { postFeishuAudio, postFeishuImage } from './upload-media';

export type { FeishuConfig } from './config';
export { FEISHU_CARD_MIN_INTERVAL_MS, FEISHU_STREAM_PUSH_WINDOW_MS } from './stream';

/**
 * The Feishu/Lark adapter: signed (and encrypted) event callbacks (`parse`) and, for the connector's long connection,
 * the same events in plaintext (`parseConnectionEvent`). One instance per cold start: it holds the
 * `tenant_access_token` cache (valid 2 h; refreshed 5 min before expiry, or at once when Feishu rejects it). Streamed
 * replies are CardKit cards (`stream.ts`); the rest are one-shot text or post replies (`send.ts`). A reply's images
 * follow its text as image replies, a spoken answer as an audio reply (`upload-media.ts`).
 */
export function createFeishuPlatform(config: FeishuConfig, deps: AdapterDeps): ChatPlatform {
  const apiBaseUrl = (config.apiBaseUrl ?? FEISHU_DEFAULT_API_BASE_URL).replace(/\/+$/, '');
  const limits = resolveReplyLimits(config.replyLimits);
  const tokens = createTokenCache({
    now: deps.now,
    fetchToken: () => fetchTenantAccessToken(apiBaseUrl, config.appId, config.appSecret, deps),
  });

  /** Images as replies to the member's message, threaded like the text; a failed one is reported, not thrown. */
  const postImages = async (sendDeps: AdapterDeps, target: ReplyTarget, images: OutgoingReply['images']) => {
    if (target.handle.platform !== 'feishu') {
      throw new TypeError(`Feishu adapter cannot send to a ${target.handle.platform} handle`);
    }
    const place = target.handle;
    return postReplyImages(images, (image, index) =>
      postFeishuImage(apiBaseUrl, place, target.idempotencyKey, image, index, tokens, sendDeps),
    );
  };
  const sendWith = async (sendDeps: AdapterDeps, reply: OutgoingReply) => {
    if (reply.handle.platform !== 'feishu') {
      throw new TypeError(`Feishu adapter cannot send to a ${reply.handle.platform} handle`);
    }
    const text = await sendFeishuReply(apiBaseUrl, reply, reply.handle, tokens, sendDeps, limits);
    return reply.images ? withImages(text, await postImages(sendDeps, reply, reply.images)) : text;
  };
  const send = (reply: OutgoingReply) => sendWith(deps, reply);

  function openCardReply(target: ReplyTarget, options: OpenReplyOptions): ReplySession {
    if (target.handle.platform !== 'feishu') {
      throw new TypeError(`Feishu adapter cannot reply to a ${target.handle.platform} handle`);
    }
    // Every HTTP attempt of this reply, the card's and a fallback message's alike, counts for `platformCalls`.
    const counted = countingFetch(deps.fetch);
    const sessionDeps: AdapterDeps = { ...deps, fetch: counted.fetch };
    const ops = createFeishuCardOps({
      apiBaseUrl,
      handle: target.handle,
      idempotencyKey: target.idempotencyKey,
      mentionUserId: target.mentionUserId,
      limits,
      tokens,
      deps: sessionDeps,
      calls: counted.calls,
      sendWhole: (text, images) => sendWith(sessionDeps, { ...target, text, ...(images ? { images } : {}) }),
      sendImages: async (images) => withImages({ messageIds: [] }, await postImages(sessionDeps, target, images)),
    });
    return openStreamingSession(ops, options, { now: deps.now, sleep: deps.sleep });
  }

  return {
    name: 'feishu',
    // Every reply part and every card message carries a uuid derived from the idempotency key; Feishu drops
    // repeats within 1 h.
    idempotentSend: true,
    streaming: true,
    parse: (request, now) => parseFeishuRequest(config, request, now),
    parseConnectionEvent: (payload) => parseFeishuConnectionEvent(config, payload),
    send,
    downloadAttachment: (attachment, options) => downloadFeishuFile(attachment, options, { apiBaseUrl, tokens, deps }),
    lookupMember: (_tenantId, openId) => lookupFeishuMember(apiBaseUrl, openId, tokens, deps),
    sendSpeech: async (target, speech) => {
      if (target.handle.platform !== 'feishu') {
        throw new TypeError(`Feishu adapter cannot reply to a ${target.handle.platform} handle`);
      }
      return postFeishuAudio(apiBaseUrl, target.handle, target.idempotencyKey, speech, tokens, deps);
    },
    openReply: async (target, options) =>
      options?.stream === true ? openCardReply(target, options) : openOneShotReply(send, target),
  };
}

export const feishuPlatform: PlatformDescriptor<
  'feishu',
  typeof feishuReplyHandleSchema,
  typeof feishuCredentials.schema
> = {
  ...feishuManifest,
  create: ({ credentials, env, replyLimits, deps }) =>
    createFeishuPlatform({ ...credentials, ...apiBaseUrlFrom(env[ENV.feishuApiBaseUrl]), replyLimits }, deps),
};
