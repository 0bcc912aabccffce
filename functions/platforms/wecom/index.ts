import { streamingConfigFrom, streamsTo } from '#config/streaming';
import { type PlatformDescriptor, replyUrlAllowlist } from '#platforms/descriptor';
import { openOneShotReply } from '#platforms/shared/reply-session';
import { openStreamingSession } from '#platforms/shared/streaming-session';
import type { AdapterDeps, ChatPlatform, OutgoingReply, SendResult } from '#platforms/types';
import { resolveWeComConfig, WECOM_REPLY_ORIGIN, type WeComConfig } from './config';
import type { wecomCredentials } from './credentials';
import { wecomManifest } from './manifest';
import { parseWeComRequest } from './parse';
import type { wecomReplyHandleSchema } from './reply-handle';
import { sendWeComReply } from './send';
import { answerStreamRefresh, deliverToStream, startedStream, wecomSurfaceOps } from './stream';

export { computeMsgSignature, decryptMessage, deriveAesKey, encryptMessage } from './biz-msg-crypt';
export { RESPONSE_URL_LIFETIME_MS, WECOM_REPLY_ORIGIN, type WeComConfig } from './config';
export { WECOM_REPLY_LIMIT_BYTES } from './send';
export { STREAM_WINDOW_MS, wecomStreamId } from './stream-protocol';

/**
 * The WeCom AI bot (智能机器人, API mode) adapter: URL check, encrypted JSON callbacks, replies via `response_url` or,
 * in chats that stream (`config.streaming`, with `deps.streamSnapshots`), through the pull-model stream the
 * webhook's ack starts (`stream.ts`).
 * @throws ConfigError at creation when the token or EncodingAESKey is unusable.
 */
export function createWeComPlatform(config: WeComConfig, deps: AdapterDeps): ChatPlatform {
  const resolved = resolveWeComConfig(config);
  const store = deps.streamSnapshots;
  const context = store ? { config: resolved, deps, store } : undefined;
  const startsStream = context ? (chatId: string) => streamsTo(resolved.streaming, 'wecom', chatId) : undefined;

  /** A message whose ack started a stream is answered on that stream (WeCom polls it), whatever the session kind. */
  const send = (reply: OutgoingReply): Promise<SendResult> => {
    const stream = startedStream(reply.handle);
    return stream && context ? deliverToStream(reply, stream, context) : sendWeComReply(reply, resolved, deps);
  };

  return {
    name: 'wecom',
    streaming: context !== undefined,
    parse: (request, now) => parseWeComRequest(request, resolved, now, startsStream ? { startsStream } : {}),
    send,
    async openReply(target, options = {}) {
      const stream = startedStream(target.handle);
      if (!options.stream || !stream || !context) return openOneShotReply(send, target);
      return openStreamingSession(wecomSurfaceOps(target, stream, context), options, deps);
    },
    answerStreamRefresh: (streamId, now) => answerStreamRefresh(streamId, now, resolved, store),
  };
}

export const wecomPlatform: PlatformDescriptor<'wecom', typeof wecomReplyHandleSchema, typeof wecomCredentials.schema> =
  {
    ...wecomManifest,
    create: ({ credentials, env, replyLimits, replyHandleOrigins, deps }) =>
      createWeComPlatform(
        {
          ...credentials,
          replyUrls: replyUrlAllowlist([WECOM_REPLY_ORIGIN], replyHandleOrigins),
          replyLimits,
          streaming: streamingConfigFrom(env),
        },
        deps,
      ),
  };
