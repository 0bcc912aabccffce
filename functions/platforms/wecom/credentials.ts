import * as z from 'zod';
import { ENV, PLATFORM_CREDENTIAL_ENV } from '#config/env-names';
import type { CredentialSpec } from '#platforms/credentials';

const nonEmpty = z.string().min(1);

/** WeCom AI bot callback credentials: the token and the 43-character EncodingAESKey; bot id and name optional. */
export const wecomCredentials = {
  schema: z.object({
    token: nonEmpty,
    encodingAesKey: z.string().length(43),
    botId: nonEmpty.optional(),
    botName: nonEmpty.optional(),
  }),
  secretIdEnv: ENV.wecomSecretId,
  envNames: PLATFORM_CREDENTIAL_ENV.wecom,
} satisfies CredentialSpec;
