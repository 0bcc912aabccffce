import { ENV, PLATFORM_CREDENTIAL_ENV } from '#config/env-names';
import type { CredentialSpec } from '#platforms/credentials';
import * as z from '#shared/zod';

const nonEmpty = z.string().check(z.minLength(1));

/** DingTalk enterprise-internal app credentials; the robot code and name are optional. */
export const dingtalkCredentials = {
  schema: z.object({
    appKey: nonEmpty,
    appSecret: nonEmpty,
    robotCode: z.optional(nonEmpty),
    botName: z.optional(nonEmpty),
  }),
  secretIdEnv: ENV.dingtalkSecretId,
  envNames: PLATFORM_CREDENTIAL_ENV.dingtalk,
} satisfies CredentialSpec;
