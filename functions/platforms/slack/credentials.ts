import { ENV, PLATFORM_CREDENTIAL_ENV } from '#config/env-names';
import type { CredentialSpec } from '#platforms/credentials';
import * as z from '#shared/zod';

const nonEmpty = z.string().check(z.minLength(1));

/**
 * The app-level token Socket Mode opens its connection with (`apps.connections.open`, scope `connections:write`).
 * Checked for its `xapp-` prefix so a bot token pasted in its place fails at start, not as `not_allowed_token_type`
 * on every reconnect. Never logged: config errors name the key, not the value (`loadCredentials`).
 */
export const SLACK_APP_TOKEN_SHAPE = /^xapp-[A-Za-z0-9-]+$/;

/**
 * Slack app credentials: the Events API signing secret and the bot token (`xoxb-…`) with its user id; `appToken`
 * (`xapp-…`) only where the connector holds a Socket Mode connection instead of a public webhook (issue 18).
 */
export const slackCredentials = {
  schema: z.object({
    signingSecret: nonEmpty,
    botToken: nonEmpty,
    botUserId: nonEmpty,
    appToken: z.optional(z.string().check(z.regex(SLACK_APP_TOKEN_SHAPE, 'must be an app-level token (xapp-…)'))),
  }),
  secretIdEnv: ENV.slackSecretId,
  envNames: PLATFORM_CREDENTIAL_ENV.slack,
} satisfies CredentialSpec;
