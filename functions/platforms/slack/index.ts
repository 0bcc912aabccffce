import { ENV } from '#config/env-names';
import { apiBaseUrlFrom, type PlatformDescriptor } from '#platforms/descriptor';
import { askerMentionId } from '#platforms/shared/mentions';
import { postReplyImages, withImages } from '#platforms/shared/reply-images';
import { openOneShotReply } from '#platforms/shared/reply-session';
import { type ReplyLimits, resolveReplyLimits } from '#platforms/shared/reply-text';
import { countingFetch, openStreamingSession } from '#platforms/shared/streaming-session';
import type {
  AdapterDeps,
  ChatPlatform,
  OpenReplyOptions,
  OutgoingReply,
  ReplySession,
  ReplyTarget,
  SendResult,
} from '#platforms/types';
import { SLACK_DEFAULT_API_BASE_URL, type SlackConfig } from './config';
import type { slackCredentials } from './credentials';
import { lookupSlackMember } from './directory';
import { downloadSlackFile } from './files';
import { slackManifest } from './manifest';
import { parseSlackEventsBody, parseSlackRequest } from './parse';
import type { slackReplyHandleSchema } from './reply-handle';
import { SLACK_USER_ID_SHAPE, sendSlackReply } from './send';
import { type SlackStreamPlace, slackSurfaceOps } from './stream';
import { slackStreamText } from './stream-text';
import { postSlackAudio } from './upload-audio';
import { postSlackImage } from './upload-image';
import { slackWebApi } from './web-api';

export type { SlackConfig } from './config';

type SlackHandle = Extract<OutgoingReply['handle'], { platform: 'slack' }>;

/**
 * The Slack Events API adapter: signed HTTP events (`parse`) and, for the connector's Socket Mode connection, the same
 * event bodies unsigned (`parseConnectionEvent`). Streams with `chat.startStream` (`stream.ts`); a reply's images
 * follow its text as shared files (`upload-image.ts`), and so does a spoken answer (`upload-audio.ts`).
 */
export function createSlackPlatform(config: SlackConfig, deps: AdapterDeps): ChatPlatform {
  const apiBaseUrl = (config.apiBaseUrl ?? SLACK_DEFAULT_API_BASE_URL).replace(/\/+$/, '');
  const limits = resolveReplyLimits(config.replyLimits);
  const send = async (reply: OutgoingReply, sendDeps: AdapterDeps = deps) =>
    sendSlackReply(apiBaseUrl, config.botToken, reply, slackHandle(reply.handle), sendDeps, limits);
  return {
    name: 'slack',
    streaming: true,
    parse: (request, now) => parseSlackRequest(config, request, now),
    parseConnectionEvent: (payload) => parseSlackEventsBody(config, payload),
    send: (reply) => send(reply),
    downloadAttachment: (attachment, options) =>
      downloadSlackFile(attachment, options, { apiBaseUrl, botToken: config.botToken, deps }),
    lookupMember: (_tenantId, userId) => lookupSlackMember(apiBaseUrl, config.botToken, userId, deps),
    // The spoken answer lands where the reply's images do: the channel, in the handle's thread.
    sendSpeech: async (target, speech) =>
      postSlackAudio(apiBaseUrl, config.botToken, imagePlace(slackHandle(target.handle)), speech, deps),
    openReply: async (target, options = {}) => {
      if (options.stream !== true) return openOneShotReply(send, target);
      return openStreamedReply(target, options, { apiBaseUrl, botToken: config.botToken, limits, deps, send });
    },
  };
}

interface StreamContext {
  readonly apiBaseUrl: string;
  readonly botToken: string;
  readonly limits: ReplyLimits;
  readonly deps: AdapterDeps;
  readonly send: (reply: OutgoingReply, deps: AdapterDeps) => Promise<SendResult>;
}

function openStreamedReply(target: ReplyTarget, options: OpenReplyOptions, context: StreamContext): ReplySession {
  const handle = slackHandle(target.handle);
  // Every HTTP attempt of this reply, the fallback's one-shot send included, is counted.
  const counted = countingFetch(context.deps.fetch);
  const deps: AdapterDeps = { ...context.deps, fetch: counted.fetch };
  const asker = askerMentionId(target.mentionUserId, SLACK_USER_ID_SHAPE);
  const ops = slackSurfaceOps(streamPlace(handle), {
    call: slackWebApi(context.apiBaseUrl, context.botToken, deps),
    calls: counted.calls,
    text: slackStreamText(asker ? `<@${asker}> ` : '', context.limits),
    sendWhole: (text, images) => context.send({ ...target, text, ...(images ? { images } : {}) }, deps),
    // After a finished stream: the images as their own messages in the stream's thread (`sendSlackReply`'s place).
    sendImages: async (images) => {
      const posted = await postReplyImages(images, (image, index) =>
        postSlackImage(context.apiBaseUrl, context.botToken, imagePlace(handle), image, index, deps),
      );
      return withImages({ messageIds: [] }, posted);
    },
    now: deps.now,
  });
  return openStreamingSession(ops, options, { now: deps.now, sleep: deps.sleep });
}

/** Where a stream may go. Handles queued before the streaming fields existed get no native stream (`stream.ts`). */
function streamPlace(handle: SlackHandle): SlackStreamPlace {
  const direct = handle.direct === true;
  const recipient =
    handle.userId !== undefined && handle.teamId !== undefined
      ? { userId: handle.userId, teamId: handle.teamId }
      : undefined;
  const streamThreadTs = handle.threadTs ?? handle.messageTs;
  return {
    channel: handle.channel,
    direct,
    ...(handle.threadTs !== undefined ? { threadTs: handle.threadTs } : {}),
    ...(streamThreadTs !== undefined ? { streamThreadTs } : {}),
    // A DM stream carries no recipient (required only "outside of a DM"; one report says DMs refuse them).
    ...(recipient && !direct ? { recipient } : {}),
  };
}

/**
 * Where a one-shot reply goes, so images (and a spoken answer) after a stream land beside it: the channel, in the
 * handle's thread.
 */
function imagePlace(handle: SlackHandle) {
  return { channel: handle.channel, ...(handle.threadTs !== undefined ? { threadTs: handle.threadTs } : {}) };
}

function slackHandle(handle: OutgoingReply['handle']): SlackHandle {
  if (handle.platform !== 'slack') {
    throw new TypeError(`Slack adapter cannot send to a ${handle.platform} handle`);
  }
  return handle;
}

export const slackPlatform: PlatformDescriptor<'slack', typeof slackReplyHandleSchema, typeof slackCredentials.schema> =
  {
    ...slackManifest,
    create: ({ credentials, env, replyLimits, deps }) =>
      createSlackPlatform({ ...credentials, ...apiBaseUrlFrom(env[ENV.slackApiBaseUrl]), replyLimits }, deps),
  };
