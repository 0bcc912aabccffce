import { ConfigError } from '#core/errors';
import { awsJsonClientFromEnv, SECRETS_MANAGER } from '#shared/aws-json-client';
import { secretJsonReader } from '#shared/secret-json';
import * as z from '#shared/zod';

/** How long a read key is used before Secrets Manager is asked again: a rotated key is picked up within it. */
export const API_KEY_TTL_MS = 5 * 60_000;

const secretSchema = z.object({ apiKey: z.string().check(z.minLength(1)) });

/** The key of an OpenAI-compatible server, and how to forget it when the server refuses it. */
export interface ModelApiKey {
  read(): Promise<string>;
  /** Drops the cached key: the next `read` asks Secrets Manager (the key was rotated). */
  invalidate(): void;
}

/**
 * The bearer key of an OpenAI-compatible model server, read from a Secrets Manager secret `{"apiKey": "…"}` through
 * the hand-signed client and kept for `API_KEY_TTL_MS`, or until the server refuses it. Undefined without a secret id
 * (the server takes no key). A malformed secret is a `ConfigError` that names neither the secret nor its content.
 */
export function modelApiKey(
  secretId: string | undefined,
  options: {
    readonly env?: Readonly<Record<string, string | undefined>>;
    readonly read?: (secretId: string) => Promise<unknown>;
    readonly now?: () => number;
  } = {},
): ModelApiKey | undefined {
  if (secretId === undefined) return undefined;
  const env = options.env ?? process.env;
  const read = options.read ?? secretJsonReader(() => awsJsonClientFromEnv(SECRETS_MANAGER, env));
  const now = options.now ?? Date.now;
  let cached: { readonly key: string; readonly until: number } | undefined;
  return {
    async read() {
      if (cached && now() < cached.until) return cached.key;
      const parsed = secretSchema.safeParse(await read(secretId));
      if (!parsed.success) throw new ConfigError(['model API key secret: expected JSON {"apiKey": "<non-empty>"}']);
      cached = { key: parsed.data.apiKey, until: now() + API_KEY_TTL_MS };
      return cached.key;
    },
    invalidate() {
      cached = undefined;
    },
  };
}
