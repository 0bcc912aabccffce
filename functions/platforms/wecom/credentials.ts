import { ENV, PLATFORM_CREDENTIAL_ENV } from '#config/env-names';
import type { CredentialSpec } from '#platforms/credentials';
import * as z from '#shared/zod';

const nonEmpty = z.string().check(z.minLength(1));

/** WeCom AI bot callback credentials: the token and the 43-character EncodingAESKey; bot id and name optional; the
 * long connection (connector) also needs the bot id and its secret; the member directory (profiles) needs a
 * self-built app's corp id and secret (both or neither, checked when the adapter is created). */
export const wecomCredentials = {
  schema: z.object({
    token: nonEmpty,
    encodingAesKey: z.string().check(z.length(43)),
    botId: z.optional(nonEmpty),
    botName: z.optional(nonEmpty),
    /** The long connection's `secret` (with `botId`); only the connector reads it. */
    botSecret: z.optional(nonEmpty),
    /** The member directory's self-built app (contact read permission): the corp id and the app's secret. */
    directoryCorpId: z.optional(nonEmpty),
    directoryCorpSecret: z.optional(nonEmpty),
  }),
  secretIdEnv: ENV.wecomSecretId,
  envNames: PLATFORM_CREDENTIAL_ENV.wecom,
} satisfies CredentialSpec;
