import { ENV } from '#config/env-names';
import { loadWebhookConfig, parseEnv, splitList, type WebhookConfig } from '#config/runtime-config';
import { ConfigError } from '#core/errors';
import { PLATFORM_MANIFESTS } from '#platforms/manifests';
import { credentialsFromEnv } from '#shared/container-credentials';
import * as z from '#shared/zod';
import {
  isLongConnectionPlatform,
  LONG_CONNECTION_PLATFORMS,
  type LongConnectionPlatform,
} from './platform-connections';

type Env = Readonly<Record<string, string | undefined>>;

/** The health check's port when `HEALTH_PORT` is unset: the one the ECS container health check probes. */
export const DEFAULT_HEALTH_PORT = 8080;

/**
 * How long a stopping connector lets admissions in flight finish. ECS sends SIGTERM, then SIGKILL after the
 * container's stop timeout (30 s by default, as the stack leaves it): 20 s of drain leaves room to close the sockets
 * and the health server. A fire-and-forget admission's local retries (5.25 s of pauses) fit in it.
 */
export const DRAIN_MS = 20_000;

/** What the connector process runs with, validated once at start (`loadConnectorConfig`). */
export interface ConnectorConfig {
  /** The platforms it holds a long connection for, each in `ENABLED_PLATFORMS`. */
  readonly platforms: readonly LongConnectionPlatform[];
  /** `GET /healthz` port; 0 picks a free one (tests). */
  readonly healthPort: number;
  /** The ingest path's settings, as the webhook reads them (`QUEUE_URL`, `EVENTS_TABLE`, …). */
  readonly ingest: WebhookConfig;
}

const connectorSchema = z.object({
  [ENV.longConnectionPlatforms]: z.pipe(
    z.pipe(
      z.string({ error: 'not set (comma-separated platforms to hold a long connection for)' }),
      z.transform((s: string) => [...new Set(splitList(s))]),
    ),
    z
      .array(
        z.string().check(
          z.refine(isLongConnectionPlatform, {
            error: (issue) =>
              `${JSON.stringify(issue.input)} has no long-connection client (${LONG_CONNECTION_PLATFORMS.join(', ')} have)`,
          }),
        ),
      )
      .check(z.minLength(1, 'names no platform')),
  ),
  [ENV.healthPort]: z._default(
    z.coerce.number().check(z.int('must be a whole number'), z.gte(0), z.lte(65_535)),
    DEFAULT_HEALTH_PORT,
  ),
});

/**
 * Reads and checks the connector's whole environment at once: its own variables, the webhook's ingest settings, each
 * platform's credential source and the AWS credentials. Throws one ConfigError naming every problem, each by its
 * variable, so one failed start tells the operator all there is to fix.
 * @throws ConfigError
 */
export function loadConnectorConfig(env: Env): ConnectorConfig {
  const problems: string[] = [];
  const own = collect(problems, () => parseEnv(connectorSchema, env));
  const ingest = collect(problems, () => loadWebhookConfig(env));
  collect(problems, () => credentialsFromEnv(env));
  const platforms = (own?.[ENV.longConnectionPlatforms] ?? []).filter(isLongConnectionPlatform);
  for (const platform of platforms) {
    if (ingest && !ingest.enabledPlatforms.includes(platform)) {
      problems.push(
        `${ENV.longConnectionPlatforms}: ${platform} is not in ${ENV.enabledPlatforms} (${ingest.enabledPlatforms.join(',')}); the ingest path would refuse its events`,
      );
    }
    problems.push(...credentialSourceProblems(platform, env));
  }
  if (platforms.includes('wecom') && !env[ENV.wecomRelayQueueUrl]) {
    problems.push(
      `${ENV.wecomRelayQueueUrl}: not set (WeCom's long connection also carries the replies: the relay queue the worker writes them to)`,
    );
  }
  if (problems.length > 0 || !own || !ingest) throw new ConfigError(problems);
  return Object.freeze({ platforms, healthPort: own[ENV.healthPort], ingest });
}

/**
 * A platform's credentials come from its secret (`<PLATFORM>_SECRET_ID`, as the stack sets it) or, locally, from its
 * credential variables; with neither, the connection could never open. The values themselves are checked when the
 * connections are built (`createLongConnections`), which reads them.
 */
function credentialSourceProblems(platform: LongConnectionPlatform, env: Env): string[] {
  const spec = PLATFORM_MANIFESTS[platform].credentials;
  if (env[spec.secretIdEnv] || Object.values(spec.envNames).some((name) => env[name])) return [];
  return [
    `${spec.secretIdEnv}: not set (the Secrets Manager secret with ${platform}'s credentials; locally set ${Object.values(spec.envNames).join(', ')} instead)`,
  ];
}

function collect<T>(problems: string[], read: () => T): T | undefined {
  try {
    return read();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
    return undefined;
  }
}
