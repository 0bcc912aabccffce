import { ConfigError } from '#core/errors';
import type { AwsCredentials } from './aws-sigv4';

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The AWS-defined environment variables the webhook's hand-signed client reads, with the meaning the AWS SDKs give
 * them (https://docs.aws.amazon.com/sdkref/latest/guide/settings-reference.html). Lambda sets the region and the
 * execution role's credentials; the sandbox sets all of them to point at its stand-ins.
 */
export const AWS_ENV = {
  region: 'AWS_REGION',
  accessKeyId: 'AWS_ACCESS_KEY_ID',
  secretAccessKey: 'AWS_SECRET_ACCESS_KEY',
  sessionToken: 'AWS_SESSION_TOKEN',
  /** Every service's endpoint, unless its own `AWS_ENDPOINT_URL_<SERVICE>` is set. */
  endpointUrl: 'AWS_ENDPOINT_URL',
  ignoreConfiguredEndpoints: 'AWS_IGNORE_CONFIGURED_ENDPOINT_URLS',
  useFips: 'AWS_USE_FIPS_ENDPOINT',
  useDualstack: 'AWS_USE_DUALSTACK_ENDPOINT',
} as const;

/** What names a service's endpoint: its DNS prefix and the `AWS_ENDPOINT_URL_<id>` suffix (the SDK's service id). */
export interface EndpointNames {
  readonly endpointPrefix: string;
  readonly envId: string;
}

/** DNS suffixes of the partitions other than `aws`, by region prefix (the SDKs' partitions.json). */
const PARTITION_SUFFIXES: readonly (readonly [prefix: string, suffix: string])[] = [
  ['cn-', 'amazonaws.com.cn'],
  ['us-isob-', 'sc2s.sgov.gov'],
  ['us-isof-', 'csp.hci.ic.gov'],
  ['us-iso-', 'c2s.ic.gov'],
  ['eu-isoe-', 'cloud.adc-e.uk'],
  ['eusc-', 'amazonaws.eu'],
];

/** The region from `AWS_REGION` (Lambda always sets it); `us-east-1` otherwise, as the clients factory does. */
export function awsRegion(env: Env): string {
  return env[AWS_ENV.region] || 'us-east-1';
}

/**
 * A service's endpoint: `AWS_ENDPOINT_URL_<SERVICE>`, else `AWS_ENDPOINT_URL`, else the regional endpoint of the
 * region's partition. FIPS and dual-stack endpoints are refused rather than silently ignored: name them with
 * `AWS_ENDPOINT_URL_<SERVICE>` instead.
 */
export function awsEndpoint(service: EndpointNames, region: string, env: Env): URL {
  const problems: string[] = [];
  for (const name of [AWS_ENV.useFips, AWS_ENV.useDualstack]) {
    if (env[name]?.toLowerCase() === 'true') {
      problems.push(
        `${name}: not supported by the webhook's AWS client; set the endpoint with AWS_ENDPOINT_URL_<SERVICE>`,
      );
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  if (env[AWS_ENV.ignoreConfiguredEndpoints]?.toLowerCase() !== 'true') {
    for (const name of [`${AWS_ENV.endpointUrl}_${service.envId}`, AWS_ENV.endpointUrl]) {
      const value = env[name];
      if (value) return parseEndpoint(name, value);
    }
  }
  const suffix = PARTITION_SUFFIXES.find(([prefix]) => region.startsWith(prefix))?.[1] ?? 'amazonaws.com';
  return new URL(`https://${service.endpointPrefix}.${region}.${suffix}`);
}

function parseEndpoint(name: string, value: string): URL {
  try {
    const url = new URL(value);
    if (url.protocol === 'http:' || url.protocol === 'https:') return url;
  } catch {
    // reported below
  }
  throw new ConfigError([`${name}: not an http(s) URL`]);
}

/**
 * The execution role's credentials from the environment, where Lambda puts them for the environment's lifetime
 * (the SDK's `fromEnv` reads the same, once). Names the missing variables, never the values.
 */
export function awsCredentials(env: Env): AwsCredentials {
  const accessKeyId = env[AWS_ENV.accessKeyId];
  const secretAccessKey = env[AWS_ENV.secretAccessKey];
  if (!accessKeyId || !secretAccessKey) {
    throw new ConfigError(
      [AWS_ENV.accessKeyId, AWS_ENV.secretAccessKey]
        .filter((name) => !env[name])
        .map((name) => `${name}: not set (Lambda sets the execution role's credentials; locally set them)`),
    );
  }
  const sessionToken = env[AWS_ENV.sessionToken];
  return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
}
