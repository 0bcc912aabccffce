import { ENV } from '#config/env-names';
import { streamingConfigFrom, streamsTo } from '#config/streaming';
import { PlatformApiError } from '#core/errors';
import { apiBaseUrlFrom, type PlatformDescriptor, replyUrlAllowlist } from '#platforms/descriptor';
import { openOneShotReply } from '#platforms/shared/reply-session';
import { openStreamingSession } from '#platforms/shared/streaming-session';
import type { AdapterDeps, ChatPlatform, OutgoingReply, SendResult } from '#platforms/types';
import { awsJsonClientFromEnv, SQS } from '#shared/aws-json-client';
import { resolveWeComConfig, WECOM_REPLY_ORIGIN, type WeComConfig } from './config';
import type { wecomCredentials } from './credentials';
import { createWeComDirectoryTokens, lookupWeComMember } from './directory';
import { downloadWeComFile } from './files';
import { wecomManifest } from './manifest';
import { parseWeComConnectionEvent, parseWeComRequest } from './parse';
import { relaySurfaceOps, sendViaRelay, sqsWeComRelay, type WeComRelay } from './relay';
import type { wecomReplyHandleSchema } from './reply-handle';
import { sendWeComReply } from './send';
import { answerStreamRefresh, deliverToStream, startedStream, wecomSurfaceOps } from './stream';

export { computeMsgSignature, decryptMessage, deriveAesKey, encryptMessage } from './biz-msg-crypt';
export { RESPONSE_URL_LIFETIME_MS, WECOM_REPLY_ORIGIN, type WeComConfig } from './config';
export { type RelayFrame, relayFrameSchema, sqsWeComRelay, type WeComRelay } from './relay';
export { WECOM_REPLY_LIMIT_BYTES } from './send';
export { MAX_STREAM_IMAGES_BASE64_CHARS, STREAM_WINDOW_MS, wecomStreamId } from './stream-protocol';

export interface WeComPlatformOptions {
  /**
   * Long-connection mode (`WECOM_RELAY_QUEUE_URL`): where replies to messages that came over the socket (reply
   * handles with a `req_id`) are written for the connector to send. Without it such a reply fails with a
   * PlatformApiError naming the missing setting.
   */
  readonly relay?: WeComRelay;
}

/**
 * The WeCom AI bot (智能机器人, API mode) adapter: URL check, encrypted JSON callbacks, replies via `response_url` or,
 * in chats that stream (`config.streaming`, with `deps.streamSnapshots`), through the pull-model stream the
 * webhook's ack starts (`stream.ts`). Messages from the long connection (`parseConnectionEvent`) are answered through
 * the relay (`relay.ts`): streamed in chats that stream, else one final frame.
 * @throws ConfigError at creation when the token or EncodingAESKey is unusable.
 */
export function createWeComPlatform(
  config: WeComConfig,
  deps: AdapterDeps,
  options: WeComPlatformOptions = {},
): ChatPlatform {
  const resolved = resolveWeComConfig(config);
  const store = deps.streamSnapshots;
  const context = store ? { config: resolved, deps, store } : undefined;
  const startsStream = context ? (chatId: string) => streamsTo(resolved.streaming, 'wecom', chatId) : undefined;
  // The member directory, only with the optional self-built app's credentials; its token is this adapter's.
  const { directory } = resolved;
  const directoryTokens = directory ? createWeComDirectoryTokens(directory, deps) : undefined;
  const lookupMember: ChatPlatform['lookupMember'] =
    directory && directoryTokens
      ? (_tenantId, userId) => lookupWeComMember(userId, directory, directoryTokens, deps)
      : undefined;

  /** A message whose ack started a stream is answered on that stream (WeCom polls it), whatever the session kind. */
  const { relay } = options;
  const relayed = (reply: Pick<OutgoingReply, 'handle'>) => reply.handle.platform === 'wecom' && reply.handle.reqId;
  const requireRelay = (): WeComRelay => {
    if (!relay) {
      throw new PlatformApiError(
        `WeCom reply to a long-connection message needs ${ENV.wecomRelayQueueUrl} (the connector's relay queue)`,
        0,
        '',
      );
    }
    return relay;
  };

  const send = async (reply: OutgoingReply): Promise<SendResult> => {
    if (relayed(reply)) return sendViaRelay(reply, requireRelay(), resolved, deps.now);
    const stream = startedStream(reply.handle);
    return stream && context ? deliverToStream(reply, stream, context) : sendWeComReply(reply, resolved, deps);
  };

  return {
    name: 'wecom',
    streaming: context !== undefined || relay !== undefined,
    // The relay's final frame is deduplicated by the queue (`<stream id>:final`) and overwrites the same stream, so a
    // redelivered worker may settle again without a second message. A webhook message's reply (`response_url`, or
    // the passive stream) is not repeated so: only replies to socket messages are idempotent.
    idempotentSend: (handle) => relay !== undefined && Boolean(relayed({ handle })),
    parse: (request, now) => parseWeComRequest(request, resolved, now, startsStream ? { startsStream } : {}),
    parseConnectionEvent: (payload, now) => parseWeComConnectionEvent(payload, resolved, now),
    send,
    async openReply(target, replyOptions = {}) {
      if (relayed(target)) {
        if (!replyOptions.stream) return openOneShotReply(send, target);
        return openStreamingSession(relaySurfaceOps(target, requireRelay(), resolved, deps.now), replyOptions, deps);
      }
      const stream = startedStream(target.handle);
      if (!replyOptions.stream || !stream || !context) return openOneShotReply(send, target);
      return openStreamingSession(wecomSurfaceOps(target, stream, context), replyOptions, deps);
    },
    answerStreamRefresh: (streamId, now) => answerStreamRefresh(streamId, now, resolved, store),
    downloadAttachment: (attachment, options) => downloadWeComFile(attachment, options, { config: resolved, deps }),
    ...(lookupMember ? { lookupMember } : {}),
  };
}

export const wecomPlatform: PlatformDescriptor<'wecom', typeof wecomReplyHandleSchema, typeof wecomCredentials.schema> =
  {
    ...wecomManifest,
    create: ({ credentials, env, replyLimits, replyHandleOrigins, deps }) =>
      createWeComPlatform(
        {
          ...credentials,
          ...apiBaseUrlFrom(env[ENV.wecomApiBaseUrl]),
          replyUrls: replyUrlAllowlist([WECOM_REPLY_ORIGIN], replyHandleOrigins),
          replyLimits,
          streaming: streamingConfigFrom(env),
        },
        deps,
        relayFromEnv(env),
      ),
  };

/** The relay queue's client when `WECOM_RELAY_QUEUE_URL` is set (long-connection mode). */
function relayFromEnv(env: Readonly<Record<string, string | undefined>>): WeComPlatformOptions {
  const queueUrl = env[ENV.wecomRelayQueueUrl];
  return queueUrl ? { relay: sqsWeComRelay(awsJsonClientFromEnv(SQS, env), queueUrl) } : {};
}
