import { ENV, PLATFORM_CREDENTIAL_ENV } from '#config/env-names';
import type { CredentialSpec } from '#platforms/credentials';
import * as z from '#shared/zod';

const nonEmpty = z.string().check(z.minLength(1));

/** Slack app credentials: the Events API signing secret and the bot token (`xoxb-…`) with its user id. */
export const slackCredentials = {
  schema: z.object({ signingSecret: nonEmpty, botToken: nonEmpty, botUserId: nonEmpty }),
  secretIdEnv: ENV.slackSecretId,
  envNames: PLATFORM_CREDENTIAL_ENV.slack,
} satisfies CredentialSpec;
