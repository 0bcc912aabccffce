import { ENV } from '#config/env-names';
import { apiBaseUrlFrom, type PlatformDescriptor, replyUrlAllowlist } from '#platforms/descriptor';
import { postReplyImages, withImages } from '#platforms/shared/reply-images';
import { openOneShotReply } from '#platforms/shared/reply-session';
import { countingFetch, openStreamingSession } from '#platforms/shared/streaming-session';
import type {
  AdapterDeps,
  ChatPlatform,
  OpenReplyOptions,
  OutgoingReply,
  ReplySession,
  ReplyTarget,
} from '#platforms/types';
import { DINGTALK_SESSION_WEBHOOK_ORIGIN, type DingTalkConfig, resolveDingTalkConfig } from './config';
import type { dingtalkCredentials } from './credentials';
import { lookupDingTalkMember } from './directory';
import { downloadDingTalkFile } from './files';
import { dingtalkManifest } from './manifest';
import { createDingTalkOpenApi, createDingTalkTokenCache } from './openapi';
import { parseDingTalkRequest, parseDingTalkRobotMessage } from './parse';
import type { dingtalkReplyHandleSchema } from './reply-handle';
import { createDingTalkSender } from './send';
import { createDingTalkCardOps, dingtalkCardSpace } from './stream';
import { postDingTalkAudio } from './upload-audio';
import { postDingTalkImage } from './upload-image';

export {
  type DingTalkCallbackKeys,
  type DingTalkEncryptedCallback,
  type DingTalkEncryptedResponse,
  decryptDingTalkCallback,
  encryptDingTalkResponse,
} from './callback-crypto';
export { DINGTALK_API_BASE_URL, DINGTALK_SESSION_WEBHOOK_ORIGIN, type DingTalkConfig } from './config';
export { computeRobotSign, verifyRobotSign } from './robot-sign';
export { DINGTALK_PART_LIMIT_CHARS } from './send';
export { AI_CARD_STATUS, DINGTALK_CARD_MIN_INTERVAL_MS, dingtalkOutTrackId } from './stream';

/**
 * The DingTalk enterprise-internal robot adapter: signed robot callbacks (or, for the connector's Stream mode
 * connection, the same robot messages unsigned: `parseConnectionEvent`), optional encrypted event-subscription handshake, replies via sessionWebhook or the robot group-message API, and, when a card
 * template is configured, streamed replies on an AI card (`stream.ts`). A reply's images follow its text as robot
 * image messages (`upload-image.ts`), a spoken answer as a robot voice message (`upload-audio.ts`).
 * @throws ConfigError at creation listing every unusable setting.
 */
export function createDingTalkPlatform(config: DingTalkConfig, deps: AdapterDeps): ChatPlatform {
  const resolved = resolveDingTalkConfig(config);
  const tokens = createDingTalkTokenCache(resolved, deps);
  const card = resolved.card;

  /**
   * The reply's text, then its images, on `sendDeps` (a session's counting fetch): a failed image is reported in
   * `imageFailures`, never thrown, so the text is neither failed nor repeated.
   */
  function createSend(sendDeps: AdapterDeps) {
    const api = createDingTalkOpenApi(resolved, sendDeps, tokens);
    const sender = createDingTalkSender(resolved, sendDeps, api);
    const postImages = async (target: ReplyTarget, images: OutgoingReply['images']) => {
      const handle = target.handle;
      if (handle.platform !== 'dingtalk') {
        throw new TypeError(`DingTalk adapter cannot send to a ${handle.platform} reply handle`);
      }
      return postReplyImages(images, (image, index) =>
        postDingTalkImage(handle, image, index, { config: resolved, api, tokens, deps: sendDeps }),
      );
    };
    return {
      api,
      postImages,
      send: async (reply: OutgoingReply) => {
        const text = await sender.send(reply);
        return reply.images ? withImages(text, await postImages(reply, reply.images)) : text;
      },
    };
  }

  /** A card session, or undefined when this reply cannot be a card (no template, or a handle without a space). */
  function openCardReply(target: ReplyTarget, options: OpenReplyOptions): ReplySession | undefined {
    const handle = target.handle;
    if (!card || handle.platform !== 'dingtalk') return undefined;
    const space = dingtalkCardSpace(handle, resolved.robotCode, target.mentionUserId);
    if (!space) return undefined;
    // Every HTTP attempt of this reply, the card's and a fallback message's alike, counts for `platformCalls`; the
    // access token is the adapter's (shared by all replies), so its fetch is not.
    const counted = countingFetch(deps.fetch);
    const session = createSend({ ...deps, fetch: counted.fetch });
    const ops = createDingTalkCardOps({
      config: resolved,
      card,
      space,
      idempotencyKey: target.idempotencyKey,
      api: session.api,
      calls: counted.calls,
      sendWhole: (text, images) => session.send({ ...target, text, ...(images ? { images } : {}) }),
      sendImages: async (images) => withImages({ messageIds: [] }, await session.postImages(target, images)),
      now: deps.now,
    });
    return openStreamingSession(ops, options, { now: deps.now, sleep: deps.sleep });
  }

  const { send, api: fileApi } = createSend(deps);
  return {
    name: 'dingtalk',
    streaming: card !== undefined,
    parse: (request, now) => parseDingTalkRequest(request, resolved, now),
    parseConnectionEvent: (payload, now) => parseDingTalkRobotMessage(payload, resolved, now),
    send,
    lookupMember: (_tenantId, userId) => lookupDingTalkMember(userId, { config: resolved, tokens, deps }),
    downloadAttachment: (attachment, options) =>
      downloadDingTalkFile(attachment, options, { config: resolved, api: fileApi, deps }),
    sendSpeech: async (target, speech) => {
      if (target.handle.platform !== 'dingtalk') {
        throw new TypeError(`DingTalk adapter cannot send to a ${target.handle.platform} reply handle`);
      }
      return postDingTalkAudio(target.handle, speech, { config: resolved, api: fileApi, tokens, deps });
    },
    openReply: async (target, options) =>
      (options?.stream === true ? openCardReply(target, options) : undefined) ?? openOneShotReply(send, target),
  };
}

export const dingtalkPlatform: PlatformDescriptor<
  'dingtalk',
  typeof dingtalkReplyHandleSchema,
  typeof dingtalkCredentials.schema
> = {
  ...dingtalkManifest,
  create: ({ credentials, env, replyLimits, replyHandleOrigins, deps }) =>
    createDingTalkPlatform(
      {
        ...credentials,
        ...apiBaseUrlFrom(env[ENV.dingtalkApiBaseUrl]),
        replyUrls: replyUrlAllowlist([DINGTALK_SESSION_WEBHOOK_ORIGIN], replyHandleOrigins),
        replyLimits,
        cardTemplateId: env[ENV.dingtalkCardTemplateId],
        cardContentKey: env[ENV.dingtalkCardContentKey],
      },
      deps,
    ),
};
