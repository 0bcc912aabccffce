import { readFile } from 'node:fs/promises';
import { ConfigError } from '#core/errors';
import { AWS_ENV, awsCredentials } from './aws-env';
import type { AwsCredentials } from './aws-sigv4';

type Env = Readonly<Record<string, string | undefined>>;

/** Credentials read when needed: a task role's, which expire and are replaced while the process runs. */
export type AwsCredentialsProvider = () => Promise<AwsCredentials>;

/**
 * The container credential variables, with the meaning the AWS SDKs give them
 * (https://docs.aws.amazon.com/sdkref/latest/guide/feature-container-credentials.html). ECS sets the relative URI for
 * a task with a task role; the full URI (with an authorization token) is EKS Pod Identity's and Greengrass's.
 */
export const CONTAINER_CREDENTIALS_ENV = {
  relativeUri: 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  fullUri: 'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  authorizationToken: 'AWS_CONTAINER_AUTHORIZATION_TOKEN',
  authorizationTokenFile: 'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
} as const;

/** The ECS agent's credential endpoint, which the relative URI is a path on. */
export const ECS_CREDENTIALS_HOST = 'http://169.254.170.2';

/**
 * Credentials are fetched again this long before they expire, as the SDKs do; ECS has the next set ready well
 * before that (it rotates a task role's credentials hours ahead of their expiry).
 */
export const REFRESH_BEFORE_EXPIRY_MS = 5 * 60_000;

export interface ContainerCredentialsOptions {
  readonly fetch?: typeof fetch;
  readonly now?: () => number;
  /** Cut-off of one fetch from the endpoint. @default 2000 */
  readonly timeoutMs?: number;
}

/**
 * The credentials a client signs with, from the environment: static ones when `AWS_ACCESS_KEY_ID` and
 * `AWS_SECRET_ACCESS_KEY` are set (Lambda, the sandbox, tests); else the container endpoint's when a container
 * credential variable is set (an ECS task: the connector), one provider per environment object; else the ConfigError
 * `awsCredentials` raises, naming the missing variables.
 */
export function credentialsFromEnv(env: Env): AwsCredentials | AwsCredentialsProvider {
  const container = env[CONTAINER_CREDENTIALS_ENV.relativeUri] || env[CONTAINER_CREDENTIALS_ENV.fullUri];
  if (env[AWS_ENV.accessKeyId] || !container) return awsCredentials(env);
  let provider = sharedProviders.get(env);
  if (!provider) {
    provider = containerCredentialsProvider(env);
    sharedProviders.set(env, provider);
  }
  return provider;
}

/** One provider per environment object, so the clients built from it (DynamoDB, SQS, Secrets Manager) share a fetch. */
const sharedProviders = new WeakMap<Env, AwsCredentialsProvider>();

/**
 * The task role's credentials from the container endpoint, cached until five minutes before they expire; callers
 * at the same moment share one fetch, and a failed fetch is not cached (the next call tries again).
 * @throws ConfigError when no container credential variable is set, or the full URI is not an http(s) URL
 */
export function containerCredentialsProvider(
  env: Env,
  options: ContainerCredentialsOptions = {},
): AwsCredentialsProvider {
  const url = endpointUrl(env);
  const fetchImpl = options.fetch ?? fetch;
  const now = options.now ?? Date.now;
  const timeoutMs = options.timeoutMs ?? 2000;
  let cached: { credentials: AwsCredentials; refreshAt: number } | undefined;
  let inFlight: Promise<AwsCredentials> | undefined;

  const load = async (): Promise<AwsCredentials> => {
    const headers: Record<string, string> = {};
    const token = await authorizationToken(env);
    if (token) headers.authorization = token;
    const response = await fetchImpl(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok) throw new Error(`container credentials endpoint answered HTTP ${response.status}`);
    const body = (await response.json()) as Partial<Record<string, unknown>>;
    const { AccessKeyId, SecretAccessKey, Token, Expiration } = body;
    if (typeof AccessKeyId !== 'string' || typeof SecretAccessKey !== 'string') {
      throw new Error('container credentials endpoint answered without AccessKeyId and SecretAccessKey');
    }
    const credentials: AwsCredentials = {
      accessKeyId: AccessKeyId,
      secretAccessKey: SecretAccessKey,
      ...(typeof Token === 'string' && Token ? { sessionToken: Token } : {}),
    };
    const expiresAt = typeof Expiration === 'string' ? Date.parse(Expiration) : Number.NaN;
    // Without a readable expiry, fetch again within the refresh margin rather than trust them for long.
    const refreshAt = Number.isNaN(expiresAt) ? now() + REFRESH_BEFORE_EXPIRY_MS : expiresAt - REFRESH_BEFORE_EXPIRY_MS;
    cached = { credentials, refreshAt };
    return credentials;
  };

  return () => {
    if (cached && now() < cached.refreshAt) return Promise.resolve(cached.credentials);
    inFlight ??= load().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };
}

function endpointUrl(env: Env): string {
  const relative = env[CONTAINER_CREDENTIALS_ENV.relativeUri];
  if (relative) return `${ECS_CREDENTIALS_HOST}${relative.startsWith('/') ? '' : '/'}${relative}`;
  const full = env[CONTAINER_CREDENTIALS_ENV.fullUri];
  if (!full) {
    throw new ConfigError([
      `${CONTAINER_CREDENTIALS_ENV.relativeUri}: not set (ECS sets it for a task with a task role)`,
    ]);
  }
  const parsed = URL.parse(full);
  if (parsed === null || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    throw new ConfigError([`${CONTAINER_CREDENTIALS_ENV.fullUri}: not an http(s) URL`]);
  }
  return full;
}

/** The token file is read on every fetch: the platform rotates its content. */
async function authorizationToken(env: Env): Promise<string | undefined> {
  const file = env[CONTAINER_CREDENTIALS_ENV.authorizationTokenFile];
  if (file) return (await readFile(file, 'utf8')).trim();
  return env[CONTAINER_CREDENTIALS_ENV.authorizationToken] || undefined;
}
