import { ENV, PLATFORM_CREDENTIAL_ENV } from '#config/env-names';
import type { CredentialSpec } from '#platforms/credentials';
import * as z from '#shared/zod';

const nonEmpty = z.string().check(z.minLength(1));

/** Feishu/Lark custom app credentials, the event subscription's token and key, and the bot's own open_id. */
export const feishuCredentials = {
  schema: z.object({
    appId: nonEmpty,
    appSecret: nonEmpty,
    verificationToken: nonEmpty,
    encryptKey: nonEmpty,
    botOpenId: nonEmpty,
  }),
  secretIdEnv: ENV.feishuSecretId,
  envNames: PLATFORM_CREDENTIAL_ENV.feishu,
} satisfies CredentialSpec;
