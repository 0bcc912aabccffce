import type { EnvName } from '#config/env-names';
import { ConfigError } from '#core/errors';
import type * as z from '#shared/zod';

/**
 * Platform credentials. In AWS each enabled platform has one Secrets Manager secret (JSON with the schema's keys),
 * named by `<PLATFORM>_SECRET_ID` and fetched once per cold start through Powertools Parameters (cached 5 min, so a
 * rotated secret is picked up without a deploy). Locally (no secret id) the same keys come from env variables.
 * Each platform folder declares its own `CredentialSpec` (`<platform>/credentials.ts`); this module only loads one.
 */
export interface CredentialSpec<Schema extends z.ZodMiniObject = z.ZodMiniObject> {
  /** The secret's JSON keys and their rules. */
  readonly schema: Schema;
  /** Env variable holding the Secrets Manager secret id (`ENV.<platform>SecretId`); the CDK app sets it. */
  readonly secretIdEnv: EnvName;
  /** Env variable per schema key, for local runs without a secret (`PLATFORM_CREDENTIAL_ENV.<platform>`). */
  readonly envNames: Readonly<Record<string, string>>;
}

export async function loadCredentials<Schema extends z.ZodMiniObject>(
  spec: CredentialSpec<Schema>,
  env: Readonly<Record<string, string | undefined>>,
  fetchSecret: (id: string) => Promise<unknown> = fetchSecretWithPowertools,
): Promise<z.infer<Schema>> {
  const secretId = env[spec.secretIdEnv];
  if (secretId) {
    const parsed = spec.schema.safeParse(await fetchSecret(secretId));
    if (!parsed.success) {
      // Names the keys only: secret values never reach logs or errors.
      throw new ConfigError(
        parsed.error.issues.map((i) => `secret ${spec.secretIdEnv}.${i.path.join('.')}: ${i.message}`),
      );
    }
    return parsed.data;
  }
  const names = spec.envNames;
  const fromEnv = Object.fromEntries(Object.entries(names).map(([key, name]) => [key, env[name] || undefined]));
  const result = spec.schema.safeParse(fromEnv);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map(
        (i) => `${names[String(i.path[0])] ?? i.path.join('.')} (or ${spec.secretIdEnv}): ${i.message}`,
      ),
    );
  }
  return result.data;
}

/**
 * Powertools Parameters, loaded on the first secret read: its module loads the Secrets Manager SDK client, which a
 * function that reads its secrets another way (the webhook: `#shared/secret-json`) must not pay for at cold start.
 */
async function fetchSecretWithPowertools(id: string): Promise<unknown> {
  const { getSecret } = await import('@aws-lambda-powertools/parameters/secrets');
  return getSecret(id, { transform: 'json', maxAge: 300 });
}
