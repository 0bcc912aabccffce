jest.mock('jose', () => jest.requireActual('./jose-cjs').joseAsCommonJs());

import { type JWTPayload, SignJWT } from 'jose';
import { type JwtConfig, loadJwtConfig } from '#config/chat-api-config';
import { claimProblem, MAX_CLAIM_CHARS } from '#core/api-identity';
import { ConfigError } from '#core/errors';
import { createAuthorizerHandler, createVerifier, type VerifyToken } from '#handlers/jwt-authorizer';
import { logger } from '#shared/powertools';
import { AUDIENCE, authorizerEvent, handSignedToken, ISSUER, SECRET, SECRET_CONFIG, TENANT } from './tokens';

/**
 * Issue 13 (hardening): the token's life is bounded — `iat` required and not in the future beyond the clock skew,
 * `exp - iat` at most the configured lifetime (24 h by default) — and the subject and tenant, which become the
 * principal and key parts, are 1–255 characters without control characters, so a 3,000-character `sub` is a 401,
 * never a 500. Issue 21: the same rules for the `tenant` claim, and `scope` is a bounded space-delimited string.
 */

const NOW_S = 1_800_000_000;
const HOUR = 3600;
const DAY = 86_400;
const config = SECRET_CONFIG;

const event = (token: string) => authorizerEvent(`Bearer ${token}`);

/** A token signed with the test secret, exactly the given claims (iss/aud/tenant filled in unless overridden). */
function sign(claims: JWTPayload): Promise<string> {
  return new SignJWT({ iss: ISSUER, aud: AUDIENCE, tenant: TENANT, ...claims })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .sign(new TextEncoder().encode(SECRET));
}

function authorizer(overrides: Partial<JwtConfig> = {}, nowS = NOW_S) {
  const verify = createVerifier({ ...config, ...overrides }, { now: () => nowS * 1000 });
  return createAuthorizerHandler(() => verify);
}

let warn: jest.SpyInstance;
beforeEach(() => {
  warn = jest.spyOn(logger, 'warn').mockImplementation(() => undefined);
});
afterEach(() => warn.mockRestore());

const refusedReason = (): string =>
  String(
    (warn.mock.calls.find(([message]) => message === 'authorizer: token refused')?.[1] as { reason?: string })?.reason,
  );

describe('iat in the future', () => {
  it.each<[string, number]>([
    ['31 s ahead (just past the 30 s skew)', 31],
    ['an hour ahead', HOUR],
    ['a year ahead', 365 * DAY],
  ])('refuses a token issued %s', async (_name, ahead) => {
    const token = await sign({ sub: 'alice', iat: NOW_S + ahead, exp: NOW_S + ahead + 600 });
    await expect(authorizer()(event(token))).rejects.toThrow(/^Unauthorized$/);
    expect(refusedReason()).toContain('"iat"');
  });

  it('accepts a token issued 25 s ahead (within the skew): the issuer’s clock may run a little fast', async () => {
    const token = await sign({ sub: 'alice', iat: NOW_S + 25, exp: NOW_S + 600 });
    await expect(authorizer()(event(token))).resolves.toMatchObject({ principalId: 'alice' });
  });

  it('honours a configured skew: 90 s ahead passes with 120 s, 150 s ahead does not', async () => {
    const wide = authorizer({ clockSkewSeconds: 120 });
    const ok = await sign({ sub: 'alice', iat: NOW_S + 90, exp: NOW_S + 600 });
    await expect(wide(event(ok))).resolves.toMatchObject({ principalId: 'alice' });
    const late = await sign({ sub: 'alice', iat: NOW_S + 150, exp: NOW_S + 600 });
    await expect(wide(event(late))).rejects.toThrow('Unauthorized');
    // With no skew at all, one second ahead is already refused.
    const ahead = await sign({ sub: 'alice', iat: NOW_S + 1, exp: NOW_S + 600 });
    await expect(authorizer({ clockSkewSeconds: 0 })(event(ahead))).rejects.toThrow('Unauthorized');
  });
});

describe('maximum token lifetime (exp - iat)', () => {
  it.each<[string, JWTPayload]>([
    ['24 h and one second', { iat: NOW_S - 60, exp: NOW_S - 60 + DAY + 1 }],
    ['30 days', { iat: NOW_S - 60, exp: NOW_S + 30 * DAY }],
    ['ten years, issued long ago', { iat: NOW_S - 300 * DAY, exp: NOW_S + 3650 * DAY }],
  ])('refuses a lifetime of %s by default, logging the reason', async (_name, times) => {
    const token = await sign({ sub: 'alice', ...times });
    await expect(authorizer()(event(token))).rejects.toThrow(/^Unauthorized$/);
    expect(refusedReason()).toMatch(/lifetime|"iat"/);
  });

  it('accepts exactly 24 h', async () => {
    const token = await sign({ sub: 'alice', iat: NOW_S - HOUR, exp: NOW_S - HOUR + DAY });
    await expect(authorizer()(event(token))).resolves.toMatchObject({ principalId: 'alice' });
  });

  it('names the lifetime in the refusal', async () => {
    const token = await sign({ sub: 'alice', iat: NOW_S, exp: NOW_S + 2 * DAY });
    await expect(authorizer()(event(token))).rejects.toThrow('Unauthorized');
    expect(refusedReason()).toBe('token lifetime exp - iat = 172800 s exceeds the maximum of 86400 s');
  });

  it('honours a configured maximum: one hour allows 3600 s and refuses 3601 s', async () => {
    const short = authorizer({ maxTokenLifetimeSeconds: HOUR });
    await expect(short(event(await sign({ sub: 'a', iat: NOW_S, exp: NOW_S + HOUR })))).resolves.toBeDefined();
    await expect(short(event(await sign({ sub: 'a', iat: NOW_S, exp: NOW_S + HOUR + 1 })))).rejects.toThrow(
      'Unauthorized',
    );
  });

  it.each<[string, () => Promise<string> | string]>([
    ['no iat (its lifetime cannot be bounded)', () => sign({ sub: 'alice', exp: NOW_S + 600 })],
    ['no iat, hand-signed', () => handSignedToken({ sub: 'bob', iss: ISSUER, aud: AUDIENCE, exp: NOW_S + 60 })],
    ['iat that is not a number', () => sign({ sub: 'alice', iat: 'yesterday' as unknown as number, exp: NOW_S + 60 })],
    ['no exp', () => sign({ sub: 'alice', iat: NOW_S })],
  ])('refuses a token with %s', async (_name, make) => {
    await expect(authorizer()(event(await make()))).rejects.toThrow(/^Unauthorized$/);
  });
});

describe('the subject becomes a key and the principal: bounded, printable', () => {
  const valid = { iat: NOW_S, exp: NOW_S + 600 };

  it.each<[string, unknown]>([
    ['3,000 characters', 'a'.repeat(3000)],
    ['256 characters (one past OpenID Connect’s 255)', 's'.repeat(MAX_CLAIM_CHARS + 1)],
    ['256 CJK characters', '名'.repeat(256)],
    ['a newline (log and header injection)', 'alice\nX-Admin: 1'],
    ['a NUL byte', 'alice\u0000'],
    ['a C1 control character', 'alice\u0085'],
    ['a number instead of a string', 12345],
  ])('refuses a sub of %s with 401, never a 500', async (_name, sub) => {
    const token = await sign({ ...valid, sub: sub as string });
    await expect(authorizer()(event(token))).rejects.toThrow(/^Unauthorized$/);
  });

  it.each<[string, string]>([
    ['255 ASCII characters', 'x'.repeat(MAX_CLAIM_CHARS)],
    ['255 CJK characters (counted in code points)', '名'.repeat(MAX_CLAIM_CHARS)],
    ['an email-style subject with punctuation', 'svc+helpdesk@example.com#1'],
  ])('accepts a sub of %s and passes it on unchanged', async (_name, sub) => {
    const result = await authorizer()(event(await sign({ ...valid, sub })));
    expect(result.principalId).toBe(sub);
    expect(result.context).toEqual({ sub, tenant: TENANT, scope: '', acceptedUntil: String(NOW_S + 630) });
  });

  it('holds whichever verifier is plugged in (the check is in the handler)', async () => {
    const lenient: VerifyToken = async () => ({
      claims: { sub: 'z'.repeat(3000), tenant: TENANT },
      acceptedUntil: NOW_S,
    });
    await expect(createAuthorizerHandler(async () => lenient)(event('a.b.c'))).rejects.toThrow('Unauthorized');
    expect(refusedReason()).toBe(`invalid claim "sub": is longer than ${MAX_CLAIM_CHARS} characters`);
  });

  it('claimProblem explains each refusal', () => {
    expect(claimProblem('sub', undefined)?.hint).toBe('missing claim: the token has no "sub"');
    expect(claimProblem('sub', '')?.hint).toBe('invalid claim "sub": must not be empty');
    expect(claimProblem('tenant', 7)?.hint).toBe('invalid claim "tenant": must be a string');
    expect(claimProblem('sub', 'a'.repeat(300))?.hint).toBe('invalid claim "sub": is longer than 255 characters');
    expect(claimProblem('sub', 'a\tb')?.hint).toBe('invalid claim "sub": contains control characters');
    expect(claimProblem('sub', 'alice')).toBeUndefined();
  });
});

describe('the tenant claim: required, bounded and printable like the subject', () => {
  const valid = { sub: 'alice', iat: NOW_S, exp: NOW_S + 600 };

  it.each<[string, unknown, string]>([
    ['left out', undefined, 'missing claim: the token has no "tenant"'],
    ['empty', '', 'invalid claim "tenant": must not be empty'],
    ['a number', 42, 'invalid claim "tenant": must be a string'],
    ['3,000 characters', 't'.repeat(3000), 'invalid claim "tenant": is longer than 255 characters'],
    ['a newline', 'acme\nX-Admin: 1', 'invalid claim "tenant": contains control characters'],
  ])('refuses a tenant %s with 401 and says why', async (_name, tenant, reason) => {
    const token = await sign({ ...valid, tenant: tenant as string });
    await expect(authorizer()(event(token))).rejects.toThrow(/^Unauthorized$/);
    expect(refusedReason()).toBe(reason);
  });

  it('passes a 255-character CJK tenant on unchanged', async () => {
    const tenant = '租'.repeat(MAX_CLAIM_CHARS);
    const result = await authorizer()(event(await sign({ ...valid, tenant })));
    expect(result.context).toMatchObject({ sub: 'alice', tenant });
  });

  it.each<[string, unknown, string]>([
    [
      'an array (only the space-delimited string of RFC 8693 is read)',
      ['chat:act_as'],
      'must be a space-delimited string',
    ],
    ['over 1,024 characters', `chat:act_as ${'x'.repeat(1100)}`, 'must be at most 1024 characters'],
    ['a control character', 'chat:act_as\nadmin', 'without control characters'],
  ])('refuses a scope that is %s', async (_name, scope, reason) => {
    await expect(authorizer()(event(await sign({ ...valid, scope: scope as string })))).rejects.toThrow('Unauthorized');
    expect(refusedReason()).toContain(reason);
  });
});

describe('loadJwtConfig: lifetime and skew', () => {
  const base = { JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, JWT_SECRET: SECRET };

  it('reads JWT_MAX_TOKEN_LIFETIME_SECONDS and JWT_CLOCK_SKEW_SECONDS', () => {
    const c = loadJwtConfig({ ...base, JWT_MAX_TOKEN_LIFETIME_SECONDS: '3600', JWT_CLOCK_SKEW_SECONDS: '60' });
    expect(c).toMatchObject({ maxTokenLifetimeSeconds: 3600, clockSkewSeconds: 60 });
  });

  it.each<[string, Record<string, string>, RegExp]>([
    ['a zero lifetime', { JWT_MAX_TOKEN_LIFETIME_SECONDS: '0' }, /JWT_MAX_TOKEN_LIFETIME_SECONDS/],
    ['a lifetime over 30 days', { JWT_MAX_TOKEN_LIFETIME_SECONDS: String(31 * DAY) }, /JWT_MAX_TOKEN_LIFETIME/],
    ['a lifetime that is not a number', { JWT_MAX_TOKEN_LIFETIME_SECONDS: '24h' }, /JWT_MAX_TOKEN_LIFETIME/],
    ['a skew over 5 minutes', { JWT_CLOCK_SKEW_SECONDS: '301' }, /JWT_CLOCK_SKEW_SECONDS/],
    ['a negative skew', { JWT_CLOCK_SKEW_SECONDS: '-1' }, /JWT_CLOCK_SKEW_SECONDS/],
  ])('refuses %s with a ConfigError naming the variable', (_name, env, message) => {
    expect(() => loadJwtConfig({ ...base, ...env })).toThrow(ConfigError);
    expect(() => loadJwtConfig({ ...base, ...env })).toThrow(message);
  });
});
