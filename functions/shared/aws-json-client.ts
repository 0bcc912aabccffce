import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { awsEndpoint, awsRegion, type EndpointNames } from './aws-env';
import { type AwsCredentials, signRequest } from './aws-sigv4';
import { type AwsCredentialsProvider, credentialsFromEnv } from './container-credentials';

/**
 * A service spoken to over the AWS JSON protocol: a signed `POST /` whose `X-Amz-Target` names the operation and
 * whose body is the operation's input as JSON, the same document the SDK's command takes.
 */
export interface AwsJsonService extends EndpointNames {
  readonly signingName: string;
  readonly targetPrefix: string;
  readonly jsonVersion: '1.0' | '1.1';
}

export const DYNAMODB: AwsJsonService = {
  signingName: 'dynamodb',
  endpointPrefix: 'dynamodb',
  envId: 'DYNAMODB',
  targetPrefix: 'DynamoDB_20120810',
  jsonVersion: '1.0',
};

export const SQS: AwsJsonService = {
  signingName: 'sqs',
  endpointPrefix: 'sqs',
  envId: 'SQS',
  targetPrefix: 'AmazonSQS',
  jsonVersion: '1.0',
};

export const SECRETS_MANAGER: AwsJsonService = {
  signingName: 'secretsmanager',
  endpointPrefix: 'secretsmanager',
  envId: 'SECRETS_MANAGER',
  targetPrefix: 'secretsmanager',
  jsonVersion: '1.1',
};

/** One operation's output, as the service's JSON document (`{}` for an empty body). */
export type AwsJsonOutput = Readonly<Record<string, unknown>>;

export interface AwsJsonClient {
  /** Calls `operation` with `input`; resolves with its output or rejects with an `AwsServiceError`. */
  call(operation: string, input: object): Promise<AwsJsonOutput>;
  /** Closes the keep-alive sockets (tests and the sandbox, so local servers stop promptly). */
  destroy(): void;
}

/** An error answer from the service, named by its error shape (`ConditionalCheckFailedException`, …). */
export class AwsServiceError extends Error {
  constructor(
    /** The error shape's name without its namespace. */
    readonly code: string,
    readonly statusCode: number,
    message: string,
    /** The whole error document: some carry data (DynamoDB's old item on a failed condition). */
    readonly body: AwsJsonOutput,
  ) {
    super(`${code}: ${message}`);
    this.name = 'AwsServiceError';
  }
}

export interface AwsJsonClientOptions {
  readonly service: AwsJsonService;
  readonly region: string;
  readonly endpoint: URL;
  /** Static credentials (Lambda's), or a provider read before every try (an ECS task role's, which expire). */
  readonly credentials: AwsCredentials | AwsCredentialsProvider;
  /** Tries per call, the SDK's standard mode. @default 3 */
  readonly maxAttempts?: number;
  /**
   * Cut-off of one try. The platforms give the webhook about 3 s, so one hung socket must leave time for a retry on
   * a new one; DynamoDB and SQS answer in milliseconds. Every call the webhook makes is safe to repeat (conditional
   * writes, FIFO deduplication ids, reads). @default 2000
   */
  readonly attemptTimeoutMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
  readonly now?: () => number;
}

/**
 * The service's client configured from the environment (region and endpoint: `aws-env.ts`; credentials: static from
 * env, or a task role's from the container endpoint, `container-credentials.ts`).
 */
export function awsJsonClientFromEnv(
  service: AwsJsonService,
  env: Readonly<Record<string, string | undefined>>,
  options: Partial<Omit<AwsJsonClientOptions, 'service'>> = {},
): AwsJsonClient {
  const region = options.region ?? awsRegion(env);
  return createAwsJsonClient({
    ...options,
    service,
    region,
    endpoint: options.endpoint ?? awsEndpoint(service, region, env),
    credentials: options.credentials ?? credentialsFromEnv(env),
  });
}

/**
 * A hand-signed AWS JSON-protocol client: the webhook's DynamoDB, SQS and Secrets Manager calls without the AWS SDK,
 * whose modules would be most of the webhook's cold start (`bench/bundle-bench.ts`, docs/PERFORMANCE.md §3). Does
 * what the SDK's standard mode does for these calls: keep-alive connections, SigV4, up to 3 tries with jittered
 * exponential backoff on throttling, 5xx and network errors, the service's error shape by name.
 */
export function createAwsJsonClient(options: AwsJsonClientOptions): AwsJsonClient {
  const { service, endpoint, credentials } = options;
  const maxAttempts = options.maxAttempts ?? 3;
  const attemptTimeoutMs = options.attemptTimeoutMs ?? 2000;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;
  const https = endpoint.protocol === 'https:';
  const agent = https ? new HttpsAgent({ keepAlive: true, maxSockets: 50 }) : new HttpAgent({ keepAlive: true });
  const path = endpoint.pathname || '/';
  const contentType = `application/x-amz-json-${service.jsonVersion}`;
  const scope = { service: service.signingName, region: options.region };

  const attempt = async (operation: string, body: string): Promise<AwsJsonOutput> => {
    const signingCredentials = typeof credentials === 'function' ? await credentials() : credentials;
    const headers = signRequest(
      {
        method: 'POST',
        host: endpoint.host,
        path,
        headers: { 'content-type': contentType, 'x-amz-target': `${service.targetPrefix}.${operation}` },
        body,
      },
      scope,
      signingCredentials,
      new Date(now()),
    );
    const response = await post(
      endpoint,
      path,
      { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      {
        body,
        agent,
        https,
        timeoutMs: attemptTimeoutMs,
      },
    );
    const document = parseDocument(response.body);
    if (response.statusCode >= 200 && response.statusCode < 300) return document;
    throw serviceError(response.statusCode, response.headers, document);
  };

  return {
    destroy: () => agent.destroy(),
    async call(operation, input) {
      const body = JSON.stringify(input);
      for (let tries = 1; ; tries++) {
        try {
          return await attempt(operation, body);
        } catch (err) {
          const retry = retryKind(err);
          if (!retry || tries >= maxAttempts) throw err;
          // The SDK's standard backoff: full jitter on base × 2^n, a longer base after throttling, at most 20 s.
          const base = retry === 'throttling' ? 500 : 100;
          await sleep(Math.floor(random() * Math.min(20_000, base * 2 ** (tries - 1))));
        }
      }
    },
  };
}

interface RawResponse {
  readonly statusCode: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

function post(
  endpoint: URL,
  path: string,
  headers: Record<string, string>,
  options: { body: string; agent: HttpAgent; https: boolean; timeoutMs: number },
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const send = options.https ? httpsRequest : httpRequest;
    const req = send(
      {
        method: 'POST',
        hostname: endpoint.hostname,
        port: endpoint.port || undefined,
        path,
        headers,
        agent: options.agent,
        signal: AbortSignal.timeout(options.timeoutMs),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            statusCode: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

function parseDocument(text: string): AwsJsonOutput {
  if (text.trim() === '') return {};
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as AwsJsonOutput) : {};
  } catch {
    return { message: text.slice(0, 200) };
  }
}

/**
 * The error shape's name from `__type` (`com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException`) or the
 * `x-amzn-errortype` header (`Name:http://…`), without namespace or suffix.
 */
function serviceError(statusCode: number, headers: IncomingHttpHeaders, document: AwsJsonOutput): AwsServiceError {
  const header = headers['x-amzn-errortype'];
  const raw =
    (typeof document.__type === 'string' && document.__type) ||
    (typeof header === 'string' && header) ||
    `HTTP${statusCode}`;
  const code = raw.split('#').pop()?.split(':')[0] || `HTTP${statusCode}`;
  const message =
    (typeof document.message === 'string' && document.message) ||
    (typeof document.Message === 'string' && document.Message) ||
    `HTTP ${statusCode}`;
  return new AwsServiceError(code, statusCode, message, document);
}

/** The error codes the SDK's standard retry mode treats as throttling (`@smithy/service-error-classification`). */
const THROTTLING_CODES = new Set([
  'BandwidthLimitExceeded',
  'EC2ThrottledException',
  'LimitExceededException',
  'PriorRequestNotComplete',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'ThrottledException',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'TransactionInProgressException',
  'KmsThrottled',
]);

/** Node network errors worth another try on a fresh socket (a keep-alive socket closed while Lambda was frozen). */
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** Read by property, not `instanceof`: Node's own errors come from another realm under some runners (jest's vm). */
function retryKind(err: unknown): 'throttling' | 'transient' | undefined {
  if (err instanceof AwsServiceError) {
    if (err.statusCode === 429 || THROTTLING_CODES.has(err.code)) return 'throttling';
    return err.statusCode >= 500 ? 'transient' : undefined;
  }
  if (typeof err !== 'object' || err === null) return undefined;
  const name = 'name' in err ? err.name : undefined;
  const code = 'code' in err ? err.code : undefined;
  if (name === 'TimeoutError' || name === 'AbortError') return 'transient';
  return typeof code === 'string' && NETWORK_CODES.has(code) ? 'transient' : undefined;
}
