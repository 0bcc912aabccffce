jest.mock('jose', () => jest.requireActual('./jose-cjs').joseAsCommonJs());

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { type JwtConfig, loadJwtConfig } from '#config/chat-api-config';
import { ConfigError } from '#core/errors';
import { type RefusalKind, refusalOf } from '#core/token-refusal';
import { createAuthorizerHandler, createVerifier, stageWildcardArn, type VerifyToken } from '#handlers/jwt-authorizer';
import { logger } from '#shared/powertools';
import {
  AUDIENCE,
  authorizerEvent,
  handSignedToken,
  hsToken,
  ISSUER,
  METHOD_ARN,
  noneToken,
  SECRET,
  SECRET_CONFIG,
  TENANT,
  tamperedToken,
} from './tokens';

const NOW_S = 1_800_000_000;
const now = () => NOW_S * 1000;
const secretConfig = SECRET_CONFIG;
const event = authorizerEvent;

let warn: jest.SpyInstance;
beforeEach(() => {
  warn = jest.spyOn(logger, 'warn').mockImplementation(() => undefined);
});
afterEach(() => warn.mockRestore());

const authorizerFor = (verify: Promise<VerifyToken>) => createAuthorizerHandler(() => verify);
const secretAuthorizer = () => authorizerFor(createVerifier(secretConfig, { now }));
/** The token's `exp` as the hints print it. */
const isoSeconds = (epochSeconds: number) => new Date(epochSeconds * 1000).toISOString().replace('.000Z', 'Z');

/** The authorizer's refusal: `Error('Unauthorized')` (API Gateway's 401) with the reason as its cause. */
async function refusalFor(promise: Promise<unknown>) {
  const err = await promise.then(
    () => {
      throw new Error('expected the authorizer to refuse');
    },
    (e: unknown) => e,
  );
  expect(err).toEqual(new Error('Unauthorized'));
  return refusalOf(err);
}

describe('JWT authorizer with an HS256 secret', () => {
  it('allows the whole stage for a valid token and passes its identity claims on as strings', async () => {
    const token = await hsToken({ nowSeconds: NOW_S, sub: 'svc-helpdesk', scope: 'chat:act_as profile' });
    const result = await secretAuthorizer()(event(`Bearer ${token}`));
    expect(result).toEqual({
      principalId: 'svc-helpdesk',
      policyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Action: 'execute-api:Invoke',
            Effect: 'Allow',
            Resource: 'arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/*',
          },
        ],
      },
      context: {
        sub: 'svc-helpdesk',
        tenant: TENANT,
        scope: 'chat:act_as profile',
        acceptedUntil: String(NOW_S + 630),
      },
    });
  });

  it('finds the header whatever its case and accepts any correct HS256 signer', async () => {
    const token = handSignedToken({
      sub: 'bob',
      tenant: 'acme',
      iss: ISSUER,
      aud: AUDIENCE,
      iat: NOW_S,
      exp: NOW_S + 60,
    });
    const result = await secretAuthorizer()(event(`bearer ${token}`, 'authorization'));
    expect(result.context).toEqual({ sub: 'bob', tenant: 'acme', scope: '', acceptedUntil: String(NOW_S + 90) });
  });

  it.each<[string, () => Promise<string | undefined>, RefusalKind, RegExp]>([
    [
      'no Authorization header',
      async () => undefined,
      'no_token',
      /^no bearer token: send "Authorization: Bearer <JWT>"$/,
    ],
    ['an empty header', async () => '', 'no_token', /^no bearer token/],
    [
      'another scheme',
      async () => `Basic ${Buffer.from('a:b').toString('base64')}`,
      'malformed_token',
      /^the Authorization header is not "Bearer <JWT>"$/,
    ],
    ['a token that is not a JWT', async () => 'Bearer not-a-jwt', 'malformed_token', /three base64url parts/],
    ['three parts of garbage', async () => 'Bearer abc.def.ghi', 'malformed_token', /^malformed token: /],
    [
      'expired (past the 30 s leeway)',
      () => hsToken({ nowSeconds: NOW_S - 3600, exp: NOW_S - 31 }),
      'expired',
      new RegExp(`^the token expired 31 s ago \\(exp ${isoSeconds(NOW_S - 31)}\\)$`),
    ],
    [
      'expired a day and a half ago',
      () => hsToken({ nowSeconds: NOW_S - 40 * 3600, exp: NOW_S - 36 * 3600 }),
      'expired',
      /^the token expired 1 d 12 h ago/,
    ],
    [
      'not valid yet (nbf past the leeway)',
      () => hsToken({ nowSeconds: NOW_S, nbf: NOW_S + 120 }),
      'not_yet_valid',
      new RegExp(`^the token is not valid yet: valid from ${isoSeconds(NOW_S + 120)}, in 2 min$`),
    ],
    [
      'without exp',
      () => hsToken({ nowSeconds: NOW_S, exp: null }),
      'missing_claim',
      /^missing claim: the token has no "exp"$/,
    ],
    [
      'without sub',
      () => hsToken({ nowSeconds: NOW_S, sub: null }),
      'missing_claim',
      /^missing claim: the token has no "sub"$/,
    ],
    [
      'an empty sub',
      () => hsToken({ nowSeconds: NOW_S, sub: '' }),
      'invalid_claim',
      /^invalid claim "sub": must not be empty$/,
    ],
    [
      'without tenant',
      () => hsToken({ nowSeconds: NOW_S, tenant: null }),
      'missing_claim',
      /^missing claim: the token has no "tenant"$/,
    ],
    [
      'the wrong issuer',
      () => hsToken({ nowSeconds: NOW_S, iss: 'someone-else' }),
      'wrong_issuer',
      /^wrong issuer: expected "groupgate-test", the token has "someone-else"$/,
    ],
    [
      'the wrong audience',
      () => hsToken({ nowSeconds: NOW_S, aud: 'another-api' }),
      'wrong_audience',
      /^wrong audience: expected "groupgate", the token has "another-api"$/,
    ],
    [
      'signed with another key',
      () => hsToken({ nowSeconds: NOW_S, secret: 'another-secret-of-enough-length-000000' }),
      'bad_signature',
      /^bad signature: it does not verify with the shared secret JWT_SECRET /,
    ],
    [
      'an algorithm outside the allow-list (HS512)',
      () => hsToken({ nowSeconds: NOW_S, alg: 'HS512' }),
      'algorithm_not_allowed',
      /^algorithm HS512 is not allowed \(allowed: HS256\)$/,
    ],
    ['alg none', async () => noneToken(NOW_S), 'algorithm_not_allowed', /^algorithm none is not allowed/],
    ['a payload edited after signing', () => tamperedToken(), 'bad_signature', /altered after signing/],
  ])('refuses %s with Error("Unauthorized") and says why', async (_name, make, kind, hint) => {
    const token = await make();
    const header = token === undefined ? undefined : token.startsWith('B') || token === '' ? token : `Bearer ${token}`;
    const refusal = await refusalFor(secretAuthorizer()(event(header)));
    expect(refusal?.kind).toBe(kind);
    expect(refusal?.hint).toMatch(hint);
    expect(warn).toHaveBeenCalledWith('authorizer: token refused', expect.objectContaining({ code: kind }));
  });

  it('logs the API Gateway request id next to the reason, so a deployed 401 can be traced', async () => {
    const request = { ...event(undefined), requestContext: { requestId: 'req-401' } } as ReturnType<typeof event>;
    await expect(secretAuthorizer()(request)).rejects.toThrow('Unauthorized');
    expect(warn).toHaveBeenCalledWith('authorizer: token refused', {
      code: 'no_token',
      reason: 'no bearer token: send "Authorization: Bearer <JWT>"',
      requestId: 'req-401',
    });
  });

  it('accepts a token 20 s past exp (clock leeway) and refuses it 40 s past, logging why', async () => {
    const token = await hsToken({ nowSeconds: NOW_S - 600, exp: NOW_S - 20 });
    await expect(secretAuthorizer()(event(`Bearer ${token}`))).resolves.toMatchObject({ principalId: 'alice' });
    const late = authorizerFor(createVerifier(secretConfig, { now: () => (NOW_S + 20) * 1000 }));
    await expect(late(event(`Bearer ${token}`))).rejects.toThrow('Unauthorized');
    expect(warn).toHaveBeenCalledWith(
      'authorizer: token refused',
      expect.objectContaining({
        code: 'expired',
        reason: `the token expired 40 s ago (exp ${isoSeconds(NOW_S - 20)})`,
      }),
    );
  });

  it('reads the key from Secrets Manager JSON {"secret"} when configured with a secret id', async () => {
    const loadSecret = jest.fn(async () => SECRET);
    const verify = createVerifier(
      { ...secretConfig, key: { kind: 'secret-id', secretId: 'arn:jwt' } },
      { loadSecret, now },
    );
    const token = await hsToken({ nowSeconds: NOW_S });
    await expect(authorizerFor(verify)(event(`Bearer ${token}`))).resolves.toMatchObject({ principalId: 'alice' });
    expect(loadSecret).toHaveBeenCalledWith('arn:jwt');
  });

  it('a too-short secret is a configuration fault, never a 401', async () => {
    const verify = createVerifier(
      { ...secretConfig, key: { kind: 'secret-id', secretId: 'arn:jwt' } },
      { loadSecret: async () => 'short', now },
    );
    await expect(verify).rejects.toBeInstanceOf(ConfigError);
    const token = await hsToken({ nowSeconds: NOW_S });
    await expect(authorizerFor(verify)(event(`Bearer ${token}`))).rejects.toBeInstanceOf(ConfigError);
  });

  it('rethrows verifier faults that are not token problems (API Gateway answers 500, not 401)', async () => {
    const broken: VerifyToken = async () => {
      throw new TypeError('boom');
    };
    const token = await hsToken({ nowSeconds: NOW_S });
    await expect(authorizerFor(Promise.resolve(broken))(event(`Bearer ${token}`))).rejects.toThrow('boom');
  });
});

describe('JWT authorizer with a JWKS URL', () => {
  let server: Server;
  let jwksUrl: string;
  let requests = 0;
  let keys: Awaited<ReturnType<typeof generateKeyPair>>;

  beforeAll(async () => {
    keys = await generateKeyPair('RS256', { extractable: true });
    const jwk = { ...(await exportJWK(keys.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    server = createServer((_req, res) => {
      requests++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const jwksConfig = (): JwtConfig => ({
    key: { kind: 'jwks', url: jwksUrl },
    issuer: ISSUER,
    audience: AUDIENCE,
    algorithms: ['RS256'],
  });
  const rsToken = (claims: Record<string, unknown> = {}) =>
    new SignJWT({ sub: 'carol', tenant: TENANT, iss: ISSUER, aud: AUDIENCE, iat: NOW_S, exp: NOW_S + 60, ...claims })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .sign(keys.privateKey);

  it('verifies RS256 tokens against the issuer keys fetched from the URL', async () => {
    const authorize = authorizerFor(createVerifier(jwksConfig(), { now }));
    await expect(authorize(event(`Bearer ${await rsToken()}`))).resolves.toMatchObject({ context: { sub: 'carol' } });
    expect(requests).toBeGreaterThan(0);
  });

  it('refuses an HS256 token (algorithm confusion) and a token for another audience', async () => {
    const authorize = authorizerFor(createVerifier(jwksConfig(), { now }));
    const confused = await refusalFor(authorize(event(`Bearer ${await hsToken({ nowSeconds: NOW_S })}`)));
    expect(confused).toEqual({
      kind: 'algorithm_not_allowed',
      hint: 'algorithm HS256 is not allowed (allowed: RS256)',
    });
    const elsewhere = await refusalFor(authorize(event(`Bearer ${await rsToken({ aud: 'x' })}`)));
    expect(elsewhere?.kind).toBe('wrong_audience');
  });

  it('names the JWKS when no key of it signed the token', async () => {
    const other = await generateKeyPair('RS256');
    const token = await new SignJWT({
      sub: 'carol',
      tenant: TENANT,
      iss: ISSUER,
      aud: AUDIENCE,
      iat: NOW_S,
      exp: NOW_S + 60,
    })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .sign(other.privateKey);
    const refusal = await refusalFor(authorizerFor(createVerifier(jwksConfig(), { now }))(event(`Bearer ${token}`)));
    expect(refusal?.kind).toBe('bad_signature');
    expect(refusal?.hint).toContain(`the issuer's JWKS (${jwksUrl})`);
  });
});

describe('loadJwtConfig', () => {
  const base = { JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE };

  it('picks the JWKS URL over a secret id over an env secret, with algorithm defaults per kind', () => {
    expect(loadJwtConfig({ ...base, JWT_SECRET: SECRET })).toEqual({
      key: { kind: 'secret', secret: SECRET },
      issuer: ISSUER,
      audience: AUDIENCE,
      algorithms: ['HS256'],
      maxTokenLifetimeSeconds: 86_400,
      clockSkewSeconds: 30,
    });
    expect(loadJwtConfig({ ...base, JWT_SECRET: SECRET, JWT_SECRET_ID: 'arn:s' }).key).toEqual({
      kind: 'secret-id',
      secretId: 'arn:s',
    });
    const jwks = loadJwtConfig({ ...base, JWT_SECRET_ID: 'arn:s', JWT_JWKS_URL: 'https://idp.example.com/jwks' });
    expect(jwks.key).toEqual({ kind: 'jwks', url: 'https://idp.example.com/jwks' });
    expect(jwks.algorithms).toEqual(['RS256', 'ES256']);
  });

  it.each<[string, Record<string, string>, RegExp]>([
    ['no key source', { ...base }, /JWT_JWKS_URL, JWT_SECRET_ID or JWT_SECRET/],
    ['a short secret', { ...base, JWT_SECRET: 'short' }, /JWT_SECRET: must be at least 32 bytes/],
    ['no issuer', { JWT_AUDIENCE: AUDIENCE, JWT_SECRET: SECRET }, /JWT_ISSUER/],
    ['no audience', { JWT_ISSUER: ISSUER, JWT_SECRET: SECRET }, /JWT_AUDIENCE/],
    ['alg none', { ...base, JWT_SECRET: SECRET, JWT_ALGORITHMS: 'HS256,none' }, /none not allowed/],
    ['RS256 with a shared secret', { ...base, JWT_SECRET: SECRET, JWT_ALGORITHMS: 'RS256' }, /RS256 not allowed/],
    [
      'HS256 with a JWKS',
      { ...base, JWT_JWKS_URL: 'https://idp.example.com/jwks', JWT_ALGORITHMS: 'HS256' },
      /HS256 not allowed/,
    ],
    ['a non-http JWKS URL', { ...base, JWT_JWKS_URL: 'file:///etc/passwd' }, /JWT_JWKS_URL/],
  ])('refuses %s with a ConfigError naming the variable', (_name, env, message) => {
    expect(() => loadJwtConfig(env)).toThrow(ConfigError);
    expect(() => loadJwtConfig(env)).toThrow(message);
  });
});

describe('stageWildcardArn', () => {
  it('turns a method ARN into the whole stage, so cached decisions hold on every route', () => {
    expect(stageWildcardArn(METHOD_ARN)).toBe('arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/*');
  });
  it('refuses something that is not a method ARN', () => {
    expect(() => stageWildcardArn('not-an-arn')).toThrow('Unexpected methodArn');
  });
});
