/**
 * Why a `/v1/chat` bearer token was refused, in words a caller can act on. The authorizer logs it (with the API
 * Gateway request id) and attaches it to its `Error('Unauthorized')` as `cause`; API Gateway reads only the message,
 * so the deployed 401 says just "Unauthorized", while the sandbox's stand-in puts the hint in the body
 * (`sandbox/rest-api.ts`). Hints name what was expected (issuer, audience, algorithms) and never a key or secret.
 *
 * Takes jose's failures structurally (`JoseFailure`), so this module stays free of jose at run time.
 */

export type RefusalKind =
  | 'no_token'
  | 'malformed_token'
  | 'expired'
  | 'not_yet_valid'
  | 'issued_in_future'
  | 'lifetime_too_long'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'bad_signature'
  | 'algorithm_not_allowed'
  | 'unknown_key'
  | 'missing_claim'
  | 'invalid_claim'
  | 'invalid_token';

export interface TokenRefusal {
  readonly kind: RefusalKind;
  /** One sentence for the caller: what is wrong and, where it helps, what was expected. */
  readonly hint: string;
}

/** Thrown by a token verifier for a token that must be refused (401); anything else it throws is a fault (500). */
export class TokenRefusedError extends Error {
  constructor(readonly refusal: TokenRefusal) {
    super(refusal.hint);
    this.name = 'TokenRefusedError';
  }
}

/** The refusal an authorizer attached to its `Error('Unauthorized')`, if any. */
export function refusalOf(err: unknown): TokenRefusal | undefined {
  const cause: unknown = err instanceof Error ? err.cause : undefined;
  if (typeof cause !== 'object' || cause === null) return undefined;
  const { kind, hint } = cause as Partial<Record<keyof TokenRefusal, unknown>>;
  return typeof kind === 'string' && typeof hint === 'string' ? { kind: kind as RefusalKind, hint } : undefined;
}

/** What the verifier was configured to accept. */
export interface TokenExpectations {
  readonly issuer: string;
  readonly audience: string;
  readonly algorithms: readonly string[];
  /** Where verification keys come from, for a caller to read (`the shared secret JWT_SECRET`, `the issuer's JWKS (…)`). */
  readonly keySource: string;
}

/** The parts of a jose error (`JOSEError` and its claim/expiry subclasses) an explanation needs. */
export interface JoseFailure {
  readonly code: string;
  readonly message: string;
  /** `JWTClaimValidationFailed` / `JWTExpired`: the claim and why (`missing`, `check_failed`, `invalid`, …). */
  readonly claim?: string;
  readonly reason?: string;
  readonly payload?: Readonly<Record<string, unknown>>;
}

export interface FailureContext {
  readonly expected: TokenExpectations;
  readonly nowMs: number;
  /** The token's `alg` header, when it could be decoded. */
  readonly alg?: string;
}

export function explainJoseFailure(err: JoseFailure, context: FailureContext): TokenRefusal {
  const { expected, nowMs } = context;
  const payload = err.payload ?? {};
  switch (err.code) {
    case 'ERR_JWT_EXPIRED':
      // jose reports an `iat` older than the maximum token age as expired too, naming the claim.
      if (err.claim === 'iat') return explainClaim(err, payload, context);
      return { kind: 'expired', hint: `the token expired ${since(payload.exp, nowMs)}` };
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return {
        kind: 'bad_signature',
        hint: `bad signature: it does not verify with ${expected.keySource} (signed with another key, or altered after signing)`,
      };
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return {
        kind: 'algorithm_not_allowed',
        hint: `algorithm ${context.alg ?? '(none)'} is not allowed (allowed: ${expected.algorithms.join(', ')})`,
      };
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return { kind: 'unknown_key', hint: `no single key of ${expected.keySource} matches the token's kid and alg` };
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return { kind: 'malformed_token', hint: `malformed token: ${err.message}` };
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return explainClaim(err, payload, context);
    default:
      return { kind: 'invalid_token', hint: `the token was refused: ${err.message}` };
  }
}

function explainClaim(err: JoseFailure, payload: Readonly<Record<string, unknown>>, context: FailureContext) {
  const { expected, nowMs } = context;
  const claim = err.claim ?? '?';
  if (err.reason === 'missing') return missingClaim(claim);
  switch (claim) {
    case 'iss':
      return {
        kind: 'wrong_issuer',
        hint: `wrong issuer: expected "${expected.issuer}", the token has ${shown(payload.iss)}`,
      } as const;
    case 'aud':
      return {
        kind: 'wrong_audience',
        hint: `wrong audience: expected "${expected.audience}", the token has ${shown(payload.aud)}`,
      } as const;
    case 'nbf':
      if (typeof payload.nbf === 'number') {
        return { kind: 'not_yet_valid', hint: `the token is not valid yet: ${until(payload.nbf, nowMs)}` } as const;
      }
      break;
    case 'iat':
      if (typeof payload.iat === 'number' && payload.iat * 1000 > nowMs) {
        return {
          kind: 'issued_in_future',
          hint: `"iat" is ${duration(payload.iat * 1000 - nowMs)} in the future (issued at ${iso(payload.iat)}): check the issuer's clock`,
        } as const;
      }
      if (typeof payload.iat === 'number') {
        return {
          kind: 'lifetime_too_long',
          hint: `"iat" is ${duration(nowMs - payload.iat * 1000)} ago, older than the longest token lifetime accepted`,
        } as const;
      }
      break;
  }
  return invalidClaim(claim, err.message);
}

export function missingClaim(claim: string): TokenRefusal {
  return { kind: 'missing_claim', hint: `missing claim: the token has no "${claim}"` };
}

export function invalidClaim(claim: string, problem: string): TokenRefusal {
  return { kind: 'invalid_claim', hint: `invalid claim "${claim}": ${problem}` };
}

const iso = (epochSeconds: number): string => new Date(epochSeconds * 1000).toISOString().replace('.000Z', 'Z');
const shown = (value: unknown): string => (value === undefined ? 'none' : JSON.stringify(value));

function since(exp: unknown, nowMs: number): string {
  return typeof exp === 'number' ? `${duration(nowMs - exp * 1000)} ago (exp ${iso(exp)})` : '(no exp)';
}

function until(nbf: number, nowMs: number): string {
  return `valid from ${iso(nbf)}, in ${duration(nbf * 1000 - nowMs)}`;
}

const UNITS: readonly (readonly [string, number])[] = [
  ['d', 86_400],
  ['h', 3_600],
  ['min', 60],
  ['s', 1],
];

/** `45 s`, `3 min 20 s`, `2 h`, `3 d 4 h`: at most the two largest units, for a person to read. */
export function duration(ms: number): string {
  let rest = Math.max(0, Math.round(ms / 1000));
  const parts: string[] = [];
  for (const [name, size] of UNITS) {
    if (parts.length === 0 && rest < size) continue;
    const n = Math.floor(rest / size);
    rest -= n * size;
    parts.push(`${n} ${name}`);
    if (parts.length === 2) break;
  }
  return parts.filter((part) => !part.startsWith('0 ')).join(' ') || '0 s';
}
