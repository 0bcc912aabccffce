import { createHash, createHmac } from 'node:crypto';

/** Static credentials as Lambda hands them to a function (`AWS_ACCESS_KEY_ID`, …; see `aws-env.ts`). */
export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface SigningScope {
  /** The signing name, e.g. `dynamodb`, `sqs`, `secretsmanager`. */
  readonly service: string;
  readonly region: string;
}

export interface RequestToSign {
  readonly method: string;
  readonly host: string;
  /** The path as sent, already URI-encoded (`/` for the JSON protocols). */
  readonly path: string;
  /** Query parameters, not encoded. */
  readonly query?: Readonly<Record<string, string>>;
  /** Lower-case header names. Every one given is signed, so pass only what is sent. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';

/**
 * AWS Signature Version 4 (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html)
 * for the webhook's hand-signed calls: returns the request's headers plus `host`, `x-amz-date`,
 * `x-amz-security-token` (session credentials) and `authorization`. Every header passed in is signed.
 * Not for S3 (single-encoded paths, unsigned payloads): only the services `aws-json-client.ts` calls.
 */
export function signRequest(
  request: RequestToSign,
  scope: SigningScope,
  credentials: AwsCredentials,
  now: Date,
): Record<string, string> {
  const amzDate = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const headers: Record<string, string> = {
    ...request.headers,
    host: request.host,
    'x-amz-date': amzDate,
    ...(credentials.sessionToken ? { 'x-amz-security-token': credentials.sessionToken } : {}),
  };
  const names = Object.keys(headers).sort();
  const signedHeaders = names.join(';');
  const canonicalRequest = [
    request.method,
    canonicalPath(request.path),
    canonicalQuery(request.query ?? {}),
    names.map((name) => `${name}:${canonicalHeaderValue(headers[name] ?? '')}\n`).join(''),
    signedHeaders,
    sha256Hex(request.body),
  ].join('\n');
  const credentialScope = `${day}/${scope.region}/${scope.service}/aws4_request`;
  const stringToSign = [ALGORITHM, amzDate, credentialScope, sha256Hex(canonicalRequest)].join('\n');
  const signature = createHmac('sha256', signingKey(credentials.secretAccessKey, day, scope))
    .update(stringToSign, 'utf8')
    .digest('hex');
  headers.authorization = `${ALGORITHM} Credential=${credentials.accessKeyId}/${credentialScope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return headers;
}

/**
 * A presigned GET URL (SigV4 in the query string, only `host` signed, empty payload), as WebSocket APIs take it:
 * Amazon Transcribe's `/stream-transcription-websocket`. `query` holds the operation's own parameters.
 * @param expiresSeconds how long the URL may be used to connect (1–300 for Transcribe).
 */
export function presignUrl(
  request: {
    readonly protocol: string;
    readonly host: string;
    readonly path: string;
    readonly query: Readonly<Record<string, string>>;
  },
  scope: SigningScope,
  credentials: AwsCredentials,
  now: Date,
  expiresSeconds: number,
): string {
  const amzDate = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const credentialScope = `${day}/${scope.region}/${scope.service}/aws4_request`;
  const query: Record<string, string> = {
    ...request.query,
    'X-Amz-Algorithm': ALGORITHM,
    'X-Amz-Credential': `${credentials.accessKeyId}/${credentialScope}`,
    'X-Amz-Date': amzDate,
    'X-Amz-Expires': String(expiresSeconds),
    'X-Amz-SignedHeaders': 'host',
    ...(credentials.sessionToken ? { 'X-Amz-Security-Token': credentials.sessionToken } : {}),
  };
  const canonicalRequest = [
    'GET',
    canonicalPath(request.path),
    canonicalQuery(query),
    `host:${request.host}\n`,
    'host',
    sha256Hex(''),
  ].join('\n');
  const stringToSign = [ALGORITHM, amzDate, credentialScope, sha256Hex(canonicalRequest)].join('\n');
  const signature = createHmac('sha256', signingKey(credentials.secretAccessKey, day, scope))
    .update(stringToSign, 'utf8')
    .digest('hex');
  return `${request.protocol}//${request.host}${request.path}?${canonicalQuery({ ...query, 'X-Amz-Signature': signature })}`;
}

/** RFC 3986 percent-encoding, as SigV4 requires (`encodeURIComponent` leaves `!'()*` alone). */
export function uriEscape(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Services other than S3 sign each path segment encoded once more than it is sent. */
function canonicalPath(path: string): string {
  return path
    .split('/')
    .map((segment) => uriEscape(segment))
    .join('/');
}

function canonicalQuery(query: Readonly<Record<string, string>>): string {
  return Object.entries(query)
    .map(([key, value]) => [uriEscape(key), uriEscape(value)] as const)
    .sort(([a, av], [b, bv]) => (a === b ? compare(av, bv) : compare(a, b)))
    .map(([key, value]) => `${key}=${value}`)
    .join('&');
}

/** Code-point order, which SigV4's "sort by character code" means (not locale order). */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function canonicalHeaderValue(value: string): string {
  return value.trim().replace(/\s+/g, ' ');
}

function sha256Hex(data: string): string {
  return createHash('sha256').update(data, 'utf8').digest('hex');
}

/**
 * Derived keys change once a day per secret and scope; kept so a call costs one HMAC instead of five. A few entries
 * (one per service this process calls) and cleared when it grows, so a day change or a rotated secret cannot pile up.
 */
const signingKeys = new Map<string, Buffer>();
const MAX_SIGNING_KEYS = 8;

function signingKey(secretAccessKey: string, day: string, scope: SigningScope): Buffer {
  const id = `${day}/${scope.region}/${scope.service}/${secretAccessKey}`;
  const cached = signingKeys.get(id);
  if (cached) return cached;
  const key = hmac(hmac(hmac(hmac(`AWS4${secretAccessKey}`, day), scope.region), scope.service), 'aws4_request');
  if (signingKeys.size >= MAX_SIGNING_KEYS) signingKeys.clear();
  signingKeys.set(id, key);
  return key;
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}
