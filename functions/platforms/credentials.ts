import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import * as z from 'zod';
import { ENV, PLATFORM_CREDENTIAL_ENV } from '#config/env-names';
import { ConfigError } from '#core/errors';
import type { PlatformName } from './types';

/**
 * Platform credentials. In AWS each enabled platform has one Secrets Manager secret (JSON with the keys below),
 * named by `<PLATFORM>_SECRET_ID` and fetched once per cold start through Powertools Parameters (cached 5 min, so a
 * rotated secret is picked up without a deploy). Locally (no secret id) the same keys come from env variables.
 */
const nonEmpty = z.string().min(1);

export const credentialSchemas = {
  feishu: z.object({
    appId: nonEmpty,
    appSecret: nonEmpty,
    verificationToken: nonEmpty,
    encryptKey: nonEmpty,
    botOpenId: nonEmpty,
  }),
  slack: z.object({ signingSecret: nonEmpty, botToken: nonEmpty, botUserId: nonEmpty }),
  dingtalk: z.object({
    appKey: nonEmpty,
    appSecret: nonEmpty,
    robotCode: nonEmpty.optional(),
    botName: nonEmpty.optional(),
  }),
  wecom: z.object({
    token: nonEmpty,
    encodingAesKey: z.string().length(43),
    botId: nonEmpty.optional(),
    botName: nonEmpty.optional(),
  }),
} as const;

export type PlatformCredentials = { [P in PlatformName]: z.infer<(typeof credentialSchemas)[P]> };

const SECRET_ID_ENV: Record<PlatformName, string> = {
  feishu: ENV.feishuSecretId,
  slack: ENV.slackSecretId,
  dingtalk: ENV.dingtalkSecretId,
  wecom: ENV.wecomSecretId,
};

export async function loadCredentials<P extends PlatformName>(
  platform: P,
  env: Readonly<Record<string, string | undefined>>,
  fetchSecret: (id: string) => Promise<unknown> = (id) => getSecret(id, { transform: 'json', maxAge: 300 }),
): Promise<PlatformCredentials[P]> {
  const schema = credentialSchemas[platform];
  const secretId = env[SECRET_ID_ENV[platform]];
  if (secretId) {
    const value = await fetchSecret(secretId);
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      // Names the keys only: secret values never reach logs or errors.
      throw new ConfigError(
        parsed.error.issues.map((i) => `secret ${SECRET_ID_ENV[platform]}.${i.path.join('.')}: ${i.message}`),
      );
    }
    return parsed.data as PlatformCredentials[P];
  }
  const names = PLATFORM_CREDENTIAL_ENV[platform] as Record<string, string>;
  const fromEnv = Object.fromEntries(Object.entries(names).map(([key, name]) => [key, env[name] || undefined]));
  const result = schema.safeParse(fromEnv);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map(
        (i) => `${names[String(i.path[0])] ?? i.path.join('.')} (or ${SECRET_ID_ENV[platform]}): ${i.message}`,
      ),
    );
  }
  return result.data as PlatformCredentials[P];
}
