import { duration, explainJoseFailure, refusalOf, type TokenExpectations } from '#core/token-refusal';

/** Issue 21: a refused token says why — the authorizer's log always, the sandbox's 401 body too. */

const NOW_S = 1_800_000_000;
const context = {
  nowMs: NOW_S * 1000,
  expected: {
    issuer: 'groupgate',
    audience: 'groupgate-api',
    algorithms: ['RS256', 'ES256'],
    keySource: "the issuer's JWKS (https://idp.example.com/jwks)",
  } satisfies TokenExpectations,
};

describe('duration', () => {
  it.each<[number, string]>([
    [0, '0 s'],
    [400, '0 s'],
    [45_000, '45 s'],
    [60_000, '1 min'],
    [200_000, '3 min 20 s'],
    [3_600_000, '1 h'],
    [7_500_000, '2 h 5 min'],
    [7_530_000, '2 h 5 min'],
    [129_600_000, '1 d 12 h'],
    [-5_000, '0 s'],
  ])('%d ms reads as %s', (ms, text) => {
    expect(duration(ms)).toBe(text);
  });
});

describe('explainJoseFailure', () => {
  it('an expiry says how long ago and when', () => {
    const refusal = explainJoseFailure(
      {
        code: 'ERR_JWT_EXPIRED',
        message: '"exp" claim timestamp check failed',
        claim: 'exp',
        payload: { exp: NOW_S - 200 },
      },
      context,
    );
    expect(refusal).toEqual({ kind: 'expired', hint: 'the token expired 3 min 20 s ago (exp 2027-01-15T07:56:40Z)' });
  });

  it('an iat older than the longest lifetime (jose reports it as expired) is a lifetime refusal', () => {
    const refusal = explainJoseFailure(
      {
        code: 'ERR_JWT_EXPIRED',
        message: 'too far in the past',
        claim: 'iat',
        reason: 'check_failed',
        payload: { iat: NOW_S - 2 * 86_400 },
      },
      context,
    );
    expect(refusal.kind).toBe('lifetime_too_long');
    expect(refusal.hint).toBe('"iat" is 2 d ago, older than the longest token lifetime accepted');
  });

  it('wrong issuer and audience name what was expected and what the token has', () => {
    const claim = (name: string, payload: Record<string, unknown>) =>
      explainJoseFailure(
        {
          code: 'ERR_JWT_CLAIM_VALIDATION_FAILED',
          message: 'unexpected',
          claim: name,
          reason: 'check_failed',
          payload,
        },
        context,
      );
    expect(claim('iss', { iss: 'evil' })).toEqual({
      kind: 'wrong_issuer',
      hint: 'wrong issuer: expected "groupgate", the token has "evil"',
    });
    expect(claim('aud', { aud: ['a', 'b'] })).toEqual({
      kind: 'wrong_audience',
      hint: 'wrong audience: expected "groupgate-api", the token has ["a","b"]',
    });
    expect(claim('iss', {}).hint).toBe('wrong issuer: expected "groupgate", the token has none');
  });

  it('an iat in the future points at the issuer’s clock', () => {
    const refusal = explainJoseFailure(
      {
        code: 'ERR_JWT_CLAIM_VALIDATION_FAILED',
        message: 'x',
        claim: 'iat',
        reason: 'check_failed',
        payload: { iat: NOW_S + 600 },
      },
      context,
    );
    expect(refusal).toEqual({
      kind: 'issued_in_future',
      hint: `"iat" is 10 min in the future (issued at 2027-01-15T08:10:00Z): check the issuer's clock`,
    });
  });

  it('a claim of the wrong type is an invalid claim with jose’s words', () => {
    const refusal = explainJoseFailure(
      {
        code: 'ERR_JWT_CLAIM_VALIDATION_FAILED',
        message: '"nbf" claim must be a number',
        claim: 'nbf',
        reason: 'invalid',
        payload: { nbf: 'x' },
      },
      context,
    );
    expect(refusal).toEqual({ kind: 'invalid_claim', hint: 'invalid claim "nbf": "nbf" claim must be a number' });
  });

  it('names the JWKS for a key that matches nothing, and never a secret', () => {
    const refusal = explainJoseFailure(
      { code: 'ERR_JWKS_NO_MATCHING_KEY', message: 'no applicable key found' },
      context,
    );
    expect(refusal).toEqual({
      kind: 'unknown_key',
      hint: "no single key of the issuer's JWKS (https://idp.example.com/jwks) matches the token's kid and alg",
    });
  });

  it('an algorithm outside the list names both', () => {
    const refusal = explainJoseFailure(
      { code: 'ERR_JOSE_ALG_NOT_ALLOWED', message: '"alg" not allowed' },
      { ...context, alg: 'HS256' },
    );
    expect(refusal.hint).toBe('algorithm HS256 is not allowed (allowed: RS256, ES256)');
  });

  it('any other jose failure is refused with its own message', () => {
    expect(explainJoseFailure({ code: 'ERR_JWKS_TIMEOUT', message: 'request timed out' }, context)).toEqual({
      kind: 'invalid_token',
      hint: 'the token was refused: request timed out',
    });
  });
});

describe('refusalOf', () => {
  it('reads the refusal an authorizer attached as the cause', () => {
    const refusal = { kind: 'expired', hint: 'the token expired 1 s ago' } as const;
    expect(refusalOf(new Error('Unauthorized', { cause: refusal }))).toEqual(refusal);
  });

  it.each<[string, unknown]>([
    ['an Error without a cause', new Error('Unauthorized')],
    ['a cause of another shape', new Error('Unauthorized', { cause: { kind: 1 } })],
    ['a string cause', new Error('Unauthorized', { cause: 'expired' })],
    ['something that is not an Error', { cause: { kind: 'expired', hint: 'x' } }],
  ])('finds nothing in %s', (_name, err) => {
    expect(refusalOf(err)).toBeUndefined();
  });
});
