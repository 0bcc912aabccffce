import { resolveReplyLimits } from '#platforms/shared/reply-text';
import type { AdapterDeps, ChatPlatform } from '#platforms/types';
import { SLACK_DEFAULT_API_BASE_URL, type SlackConfig } from './config';
import { parseSlackRequest } from './parse';
import { sendSlackReply } from './send';

export type { SlackConfig } from './config';

/** The Slack Events API adapter (HTTP mode; Socket Mode is not used). */
export function createSlackPlatform(config: SlackConfig, deps: AdapterDeps): ChatPlatform {
  const apiBaseUrl = (config.apiBaseUrl ?? SLACK_DEFAULT_API_BASE_URL).replace(/\/+$/, '');
  const limits = resolveReplyLimits(config.replyLimits);
  return {
    name: 'slack',
    parse: (request, now) => parseSlackRequest(config, request, now),
    send: async (reply) => {
      if (reply.handle.platform !== 'slack') {
        throw new TypeError(`Slack adapter cannot send to a ${reply.handle.platform} handle`);
      }
      return sendSlackReply(apiBaseUrl, config.botToken, reply, reply.handle, deps, limits);
    },
  };
}
