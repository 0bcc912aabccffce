import { ENV } from '#config/env-names';
import { apiBaseUrlFrom, type PlatformDescriptor } from '#platforms/descriptor';
import { withOneShotReplies } from '#platforms/shared/reply-session';
import { resolveReplyLimits } from '#platforms/shared/reply-text';
import type { AdapterDeps, ChatPlatform } from '#platforms/types';
import { SLACK_DEFAULT_API_BASE_URL, type SlackConfig } from './config';
import type { slackCredentials } from './credentials';
import { slackManifest } from './manifest';
import { parseSlackRequest } from './parse';
import type { slackReplyHandleSchema } from './reply-handle';
import { sendSlackReply } from './send';

export type { SlackConfig } from './config';

/** The Slack Events API adapter (HTTP mode; Socket Mode is not used). */
export function createSlackPlatform(config: SlackConfig, deps: AdapterDeps): ChatPlatform {
  const apiBaseUrl = (config.apiBaseUrl ?? SLACK_DEFAULT_API_BASE_URL).replace(/\/+$/, '');
  const limits = resolveReplyLimits(config.replyLimits);
  return withOneShotReplies({
    name: 'slack',
    parse: (request, now) => parseSlackRequest(config, request, now),
    send: async (reply) => {
      if (reply.handle.platform !== 'slack') {
        throw new TypeError(`Slack adapter cannot send to a ${reply.handle.platform} handle`);
      }
      return sendSlackReply(apiBaseUrl, config.botToken, reply, reply.handle, deps, limits);
    },
  });
}

export const slackPlatform: PlatformDescriptor<'slack', typeof slackReplyHandleSchema, typeof slackCredentials.schema> =
  {
    ...slackManifest,
    create: ({ credentials, env, replyLimits, deps }) =>
      createSlackPlatform({ ...credentials, ...apiBaseUrlFrom(env[ENV.slackApiBaseUrl]), replyLimits }, deps),
  };
