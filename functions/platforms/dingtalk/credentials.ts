import * as z from 'zod';
import { ENV, PLATFORM_CREDENTIAL_ENV } from '#config/env-names';
import type { CredentialSpec } from '#platforms/credentials';

const nonEmpty = z.string().min(1);

/** DingTalk enterprise-internal app credentials; the robot code and name are optional. */
export const dingtalkCredentials = {
  schema: z.object({
    appKey: nonEmpty,
    appSecret: nonEmpty,
    robotCode: nonEmpty.optional(),
    botName: nonEmpty.optional(),
  }),
  secretIdEnv: ENV.dingtalkSecretId,
  envNames: PLATFORM_CREDENTIAL_ENV.dingtalk,
} satisfies CredentialSpec;
