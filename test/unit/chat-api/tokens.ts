import { createHmac } from 'node:crypto';
import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { type JWTPayload, SignJWT } from 'jose';
import type { JwtConfig } from '#config/chat-api-config';

/** Token makers for the authorizer tests; each negative case changes one thing of a valid token. */
export const SECRET = 'unit-test-jwt-secret-0123456789-abcdef';
export const ISSUER = 'groupgate-test';
export const AUDIENCE = 'groupgate';
export const TENANT = 'acme';

export interface TokenOptions {
  readonly secret?: string;
  readonly alg?: 'HS256' | 'HS384' | 'HS512';
  readonly sub?: string | null;
  /** The `tenant` claim; null leaves it out. @default 'acme' */
  readonly tenant?: string | null;
  /** The `scope` claim (space-delimited), left out by default. */
  readonly scope?: string;
  readonly iss?: string;
  readonly aud?: string;
  /** Epoch seconds; null leaves the claim out. */
  readonly exp?: number | null;
  readonly nbf?: number;
  readonly nowSeconds?: number;
}

export async function hsToken(options: TokenOptions = {}): Promise<string> {
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  const claims: JWTPayload = { iss: options.iss ?? ISSUER, aud: options.aud ?? AUDIENCE, iat: now };
  if (options.sub !== null) claims.sub = options.sub ?? 'alice';
  if (options.tenant !== null) claims.tenant = options.tenant ?? TENANT;
  if (options.scope !== undefined) claims.scope = options.scope;
  if (options.exp !== null) claims.exp = options.exp ?? now + 600;
  if (options.nbf !== undefined) claims.nbf = options.nbf;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: options.alg ?? 'HS256', typ: 'JWT' })
    .sign(new TextEncoder().encode(options.secret ?? SECRET));
}

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** An unsecured JWT (`alg: none`, RFC 7519 §6) with otherwise valid claims and an empty signature. */
export function noneToken(
  nowSeconds = Math.floor(Date.now() / 1000),
  issuer: { readonly iss: string; readonly aud: string } = { iss: ISSUER, aud: AUDIENCE },
): string {
  const claims = { sub: 'alice', tenant: TENANT, ...issuer, iat: nowSeconds, exp: nowSeconds + 600 };
  return `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims)}.`;
}

/** A valid token whose payload was edited after signing (sub changed), keeping the original signature. */
export async function tamperedToken(): Promise<string> {
  const [header, payload, signature] = (await hsToken()).split('.');
  const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()) as JWTPayload;
  return `${header}.${b64url({ ...claims, sub: 'mallory' })}.${signature}`;
}

/** HS256 computed by hand, to show the authorizer accepts any correct signer, not only jose's output. */
export function handSignedToken(claims: JWTPayload, secret = SECRET): string {
  const input = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url(claims)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/** The `/v1/chat` method ARN the authorizer tests are called for. */
export const METHOD_ARN = 'arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/POST/v1/chat';

/** An HS256 shared-secret configuration matching the tokens made here. */
export const SECRET_CONFIG: JwtConfig = {
  key: { kind: 'secret', secret: SECRET },
  issuer: ISSUER,
  audience: AUDIENCE,
  algorithms: ['HS256'],
};

/** A REQUEST authorizer event for `/v1/chat` with this `authorization` header (left out when undefined). */
export function authorizerEvent(
  authorization: string | undefined,
  headerName = 'Authorization',
): APIGatewayRequestAuthorizerEvent {
  return {
    type: 'REQUEST',
    methodArn: METHOD_ARN,
    resource: '/v1/chat',
    path: '/v1/chat',
    httpMethod: 'POST',
    headers: {
      ...(authorization === undefined ? {} : { [headerName]: authorization }),
      'X-Group-ID': 'g1',
      'X-User-ID': 'u1',
    },
    multiValueHeaders: null,
    pathParameters: null,
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    stageVariables: null,
    requestContext: {} as APIGatewayRequestAuthorizerEvent['requestContext'],
  };
}
