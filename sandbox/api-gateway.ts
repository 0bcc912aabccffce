import { randomUUID } from 'node:crypto';
import type { IncomingMessage as NodeRequest } from 'node:http';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';

/**
 * Plays API Gateway (REST, Lambda proxy integration) for the sandbox: builds the same proxy event shape AWS sends —
 * headers as received (mixed case), multi-value maps, decoded query parameters, the body base64-encoded when it is
 * not valid UTF-8 text (as API Gateway does for binary media types) — so the real handlers run unchanged.
 */
export interface ProxyRoute {
  readonly resource: string;
  readonly pathParameters?: Record<string, string>;
  readonly stage?: string;
}

/** From a Node request (the sandbox's HTTP server). */
export function toProxyEvent(req: NodeRequest, body: Buffer, route: ProxyRoute): APIGatewayProxyEvent {
  const pairs: [string, string][] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) pairs.push([req.rawHeaders[i] ?? '', req.rawHeaders[i + 1] ?? '']);
  return buildProxyEvent(
    { method: req.method ?? 'GET', url: req.url ?? '/', headers: pairs, body, sourceIp: req.socket.remoteAddress },
    route,
  );
}

export interface PlainRequest {
  readonly method: string;
  /** Path with query string. */
  readonly url: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Buffer;
  readonly sourceIp?: string;
}

/** From plain data (tests, benchmarks and the emulator's direct deliveries). */
export function buildProxyEvent(req: PlainRequest, route: ProxyRoute): APIGatewayProxyEvent {
  const url = new URL(req.url, 'http://sandbox.local');
  const body = req.body;
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (const [name, value] of req.headers) {
    headers[name] = headers[name] === undefined ? value : `${headers[name]},${value}`;
    multiValueHeaders[name] = [...(multiValueHeaders[name] ?? []), value];
  }
  const query: Record<string, string> = {};
  const multiQuery: Record<string, string[]> = {};
  for (const [k, v] of url.searchParams) {
    query[k] = v;
    multiQuery[k] = [...(multiQuery[k] ?? []), v];
  }
  const text = body.toString('utf8');
  const isText = Buffer.from(text, 'utf8').equals(body);
  const requestId = randomUUID();
  return {
    resource: route.resource,
    path: url.pathname,
    httpMethod: req.method,
    headers,
    multiValueHeaders,
    queryStringParameters: url.searchParams.size > 0 ? query : null,
    multiValueQueryStringParameters: url.searchParams.size > 0 ? multiQuery : null,
    pathParameters: route.pathParameters ?? null,
    stageVariables: null,
    body: body.length === 0 ? null : isText ? text : body.toString('base64'),
    isBase64Encoded: body.length > 0 && !isText,
    requestContext: {
      accountId: '000000000000',
      apiId: 'sandbox',
      authorizer: null,
      protocol: 'HTTP/1.1',
      httpMethod: req.method,
      identity: sandboxIdentity(req.sourceIp ?? '127.0.0.1', headers['User-Agent'] ?? headers['user-agent']),
      path: `/${route.stage ?? 'prod'}${url.pathname}`,
      stage: route.stage ?? 'prod',
      requestId,
      requestTimeEpoch: Date.now(),
      resourceId: 'sandbox',
      resourcePath: route.resource,
    },
  };
}

function sandboxIdentity(
  sourceIp: string,
  userAgent: string | undefined,
): APIGatewayProxyEvent['requestContext']['identity'] {
  return {
    accessKey: null,
    accountId: null,
    apiKey: null,
    apiKeyId: null,
    caller: null,
    clientCert: null,
    cognitoAuthenticationProvider: null,
    cognitoAuthenticationType: null,
    cognitoIdentityId: null,
    cognitoIdentityPoolId: null,
    principalOrgId: null,
    sourceIp,
    user: null,
    userAgent: userAgent ?? null,
    userArn: null,
  };
}

/** A minimal Lambda context for handlers wrapped by middy/Powertools. */
export function lambdaContext(functionName: string, timeoutMs: number) {
  const started = Date.now();
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'sandbox',
    getRemainingTimeInMillis: () => Math.max(0, timeoutMs - (Date.now() - started)),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

export type ProxyHandler = (
  event: APIGatewayProxyEvent,
  context: ReturnType<typeof lambdaContext>,
) => Promise<APIGatewayProxyResult>;
