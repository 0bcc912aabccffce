import {
  ACT_AS_SCOPE,
  type ApiPrincipal,
  principalContext,
  principalFromClaims,
  principalFromContext,
  resolveApiIdentity,
  UserMismatchError,
} from '#core/api-identity';
import { toHttpError, UnauthorizedError, ValidationError } from '#core/errors';

/** Issue 21: the `/v1/chat` identity model — `sub` is the principal, `tenant` the organisation, X-User-ID the member. */

const NOW_MS = 1_800_000_000_000;
const member: ApiPrincipal = { subject: 'alice', tenant: 'acme', scopes: [], acceptedUntil: NOW_MS / 1000 + 60 };
const portal: ApiPrincipal = { ...member, subject: 'helpdesk-portal', scopes: ['profile', ACT_AS_SCOPE] };

describe('resolveApiIdentity', () => {
  it('a member token without X-User-ID answers for its subject', () => {
    expect(resolveApiIdentity(member, undefined, NOW_MS)).toEqual({
      tenant: 'acme',
      userId: 'alice',
      principal: 'alice',
    });
  });

  it('a member token naming its own subject answers for it', () => {
    expect(resolveApiIdentity(member, 'alice', NOW_MS)).toEqual({
      tenant: 'acme',
      userId: 'alice',
      principal: 'alice',
    });
  });

  it.each(['bob', 'Alice', 'alice ', ''])('a member token naming %j is a 403 user_mismatch', (header) => {
    const attempt = () => resolveApiIdentity(member, header, NOW_MS);
    expect(attempt).toThrow(UserMismatchError);
    expect(toHttpError(captured(attempt))).toEqual({
      statusCode: 403,
      body: {
        error: {
          code: 'user_mismatch',
          message: expect.stringContaining(`X-User-ID ${JSON.stringify(header)} is not the token's subject "alice"`),
        },
      },
    });
  });

  it('an act-as token answers for the member it names, keeping itself as the principal', () => {
    expect(resolveApiIdentity(portal, 'bob', NOW_MS)).toEqual({
      tenant: 'acme',
      userId: 'bob',
      principal: 'helpdesk-portal',
    });
  });

  it('an act-as token without X-User-ID is a 400 that names the header and the scope', () => {
    const attempt = () => resolveApiIdentity(portal, undefined, NOW_MS);
    expect(attempt).toThrow(ValidationError);
    expect(attempt).toThrow(
      'header X-User-ID is required: a token with the chat:act_as scope answers for the member it names',
    );
  });

  it('only the exact scope entry grants act-as', () => {
    for (const scopes of [['chat:act_as_admin'], ['xchat:act_as'], ['chat:act'], ['CHAT:ACT_AS']]) {
      expect(() => resolveApiIdentity({ ...member, scopes }, 'bob', NOW_MS)).toThrow(UserMismatchError);
    }
  });

  it('accepts a token up to acceptedUntil and refuses it after with 401, saying how long ago', () => {
    const until = member.acceptedUntil * 1000;
    expect(resolveApiIdentity(member, undefined, until).userId).toBe('alice');
    const late = () => resolveApiIdentity(member, undefined, until + 125_000);
    expect(late).toThrow(UnauthorizedError);
    expect(late).toThrow('Unauthorized: the token expired 2 min 5 s ago');
  });

  it('checks expiry before the member, so an expired act-as token is a 401, not a 400', () => {
    const expired = { ...portal, acceptedUntil: NOW_MS / 1000 - 1 };
    expect(() => resolveApiIdentity(expired, undefined, NOW_MS)).toThrow(UnauthorizedError);
  });
});

describe('principalFromClaims', () => {
  const claims = { sub: 'alice', tenant: 'acme', iat: 1, exp: 2 };

  it('reads sub, tenant and the space-delimited scope', () => {
    expect(principalFromClaims({ claims: { ...claims, scope: '  openid  chat:act_as ' }, acceptedUntil: 32 })).toEqual({
      principal: { subject: 'alice', tenant: 'acme', scopes: ['openid', 'chat:act_as'], acceptedUntil: 32 },
    });
    expect(principalFromClaims({ claims, acceptedUntil: 32 })).toEqual({
      principal: { subject: 'alice', tenant: 'acme', scopes: [], acceptedUntil: 32 },
    });
  });

  it.each<[string, Record<string, unknown>, number, string]>([
    ['no sub', { tenant: 'acme' }, 32, 'missing claim: the token has no "sub"'],
    ['no tenant', { sub: 'alice' }, 32, 'missing claim: the token has no "tenant"'],
    ['a null tenant', { sub: 'alice', tenant: null }, 32, 'missing claim: the token has no "tenant"'],
    ['a tenant object', { sub: 'alice', tenant: { id: 1 } }, 32, 'invalid claim "tenant": must be a string'],
    ['a scope array', { ...claims, scope: ['chat:act_as'] }, 32, 'invalid claim "scope": must be a space-delimited'],
    ['no acceptance time (no exp)', claims, Number.NaN, 'missing claim: the token has no "exp"'],
  ])('refuses %s', (_name, bad, acceptedUntil, hint) => {
    const result = principalFromClaims({ claims: bad, acceptedUntil });
    expect(result).toEqual({ refusal: { kind: expect.any(String), hint: expect.stringContaining(hint) } });
  });
});

describe('the authorizer context round trip', () => {
  it('carries every claim the chat-api needs, as strings, and reads them back', () => {
    const context = principalContext(portal);
    expect(context).toEqual({
      sub: 'helpdesk-portal',
      tenant: 'acme',
      scope: `profile ${ACT_AS_SCOPE}`,
      acceptedUntil: String(portal.acceptedUntil),
    });
    expect(Object.values(context).every((v) => typeof v === 'string')).toBe(true);
    expect(principalFromContext(context)).toEqual(portal);
  });

  it.each<[string, unknown]>([
    ['null (no authorizer)', null],
    ['a sub only', { sub: 'alice' }],
    ['an empty tenant', { sub: 'alice', tenant: '', acceptedUntil: '1' }],
    ['a negative acceptedUntil', { sub: 'alice', tenant: 'acme', acceptedUntil: '-1' }],
    ['a fractional acceptedUntil', { sub: 'alice', tenant: 'acme', acceptedUntil: 1.5 }],
  ])('refuses a context that is %s as no authenticated caller', (_name, context) => {
    expect(() => principalFromContext(context)).toThrow(new UnauthorizedError('No authenticated caller'));
  });
});

function captured(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}
