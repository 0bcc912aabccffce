import * as z from '#shared/zod';
import { GroupGateError, UnauthorizedError, ValidationError } from './errors';
import { duration, invalidClaim, missingClaim, type TokenRefusal } from './token-refusal';

/**
 * Who a `/v1/chat` call is, and for whom it answers (ARCHITECTURE §4.3) — decided here and nowhere else.
 *
 * - The JWT `sub` is the **principal**: the member calling, or a trusted integration calling for members.
 * - The `tenant` claim (required; 1–255 characters without control characters, like `sub`) is the organisation: the
 *   conversation key, the ledger rows and the audit records are per tenant, so tenants never share a context.
 * - `X-User-ID` names the **member** the call answers for. A member's token acts only for itself: the header may be
 *   left out (the member is `sub`) and, when sent, must equal `sub`, else 403 `user_mismatch`. A token whose `scope`
 *   (space-delimited, RFC 8693 §4.2) holds `chat:act_as` belongs to an integration (an internal portal) that answers
 *   for many members: it must name the member in `X-User-ID` (else 400) and may name any member of its tenant.
 *
 * The authorizer checks the claims (`principalFromClaims`) and hands them to the chat-api in its context
 * (`principalContext` → `principalFromContext`); the runtime resolves the member (`resolveApiIdentity`) on every
 * call. The authorizer's decision depends on the token alone, so API Gateway may cache it keyed by the token; because
 * a cached Allow can outlive the token, the context carries `acceptedUntil` and the runtime refuses a token past it.
 */

export const TENANT_CLAIM = 'tenant';
/** The scope of a token that may answer for any member it names in `X-User-ID`. */
export const ACT_AS_SCOPE = 'chat:act_as';
/** OpenID Connect Core §2 bounds `sub` to 255 ASCII characters; `tenant` follows the same rule. */
export const MAX_CLAIM_CHARS = 255;
const MAX_SCOPE_CHARS = 1024;
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

export interface ApiPrincipal {
  /** The JWT `sub`. */
  readonly subject: string;
  /** The `tenant` claim. */
  readonly tenant: string;
  /** The `scope` claim's entries. */
  readonly scopes: readonly string[];
  /** Epoch seconds the verifier accepts the token until: its `exp` plus the clock skew allowed. */
  readonly acceptedUntil: number;
}

/** What a token verifier hands on: the verified claims and how long it accepts them. */
export interface VerifiedToken {
  readonly claims: Readonly<Record<string, unknown>>;
  readonly acceptedUntil: number;
}

/** The member a call answers for, and who asked. */
export interface ApiIdentity {
  readonly tenant: string;
  /** The member: `sub` for a member's token, `X-User-ID` for an act-as token. */
  readonly userId: string;
  /** The JWT `sub` that made the call: equal to `userId` unless an act-as token answered for a member. */
  readonly principal: string;
}

/** `X-User-ID` names another member than the token's subject, which has no `chat:act_as` scope. */
export class UserMismatchError extends GroupGateError {
  readonly code = 'user_mismatch';
  readonly httpStatus = 403;
}

/** Why an identity claim (`sub`, `tenant`) is unusable, or undefined when it is fine. */
export function claimProblem(claim: string, value: unknown): TokenRefusal | undefined {
  if (value === undefined || value === null) return missingClaim(claim);
  if (typeof value !== 'string') return invalidClaim(claim, 'must be a string');
  if (value.length === 0) return invalidClaim(claim, 'must not be empty');
  if ([...value].length > MAX_CLAIM_CHARS) return invalidClaim(claim, `is longer than ${MAX_CLAIM_CHARS} characters`);
  if (CONTROL.test(value)) return invalidClaim(claim, 'contains control characters');
  return undefined;
}

function scopesOf(scope: unknown): string[] | TokenRefusal {
  if (scope === undefined) return [];
  if (typeof scope !== 'string') return invalidClaim('scope', 'must be a space-delimited string (RFC 8693 §4.2)');
  if (scope.length > MAX_SCOPE_CHARS || CONTROL.test(scope)) {
    return invalidClaim('scope', `must be at most ${MAX_SCOPE_CHARS} characters without control characters`);
  }
  return scope.split(' ').filter((entry) => entry.length > 0);
}

/** The principal of a verified token, or why the token cannot be one. Holds whichever verifier produced the claims. */
export function principalFromClaims(token: VerifiedToken): { principal: ApiPrincipal } | { refusal: TokenRefusal } {
  const { claims } = token;
  const problem = claimProblem('sub', claims.sub) ?? claimProblem(TENANT_CLAIM, claims[TENANT_CLAIM]);
  if (problem) return { refusal: problem };
  const scopes = scopesOf(claims.scope);
  if (!Array.isArray(scopes)) return { refusal: scopes };
  if (!Number.isFinite(token.acceptedUntil)) return { refusal: missingClaim('exp') };
  return {
    principal: {
      subject: claims.sub as string,
      tenant: claims[TENANT_CLAIM] as string,
      scopes,
      acceptedUntil: token.acceptedUntil,
    },
  };
}

/** The authorizer context for a principal: strings only, as API Gateway passes context values on. */
export function principalContext(principal: ApiPrincipal): Record<string, string> {
  return {
    sub: principal.subject,
    tenant: principal.tenant,
    scope: principal.scopes.join(' '),
    acceptedUntil: String(principal.acceptedUntil),
  };
}

const epochSeconds = z.union([z.int(), z.pipe(z.string().check(z.regex(/^\d+$/)), z.transform(Number))]);
const contextSchema = z.object({
  sub: z.string().check(z.minLength(1)),
  tenant: z.string().check(z.minLength(1)),
  scope: z._default(z.string(), ''),
  acceptedUntil: epochSeconds,
});

/** The principal the authorizer put in `requestContext.authorizer`; its absence means the route is misconfigured. */
export function principalFromContext(context: unknown): ApiPrincipal {
  const parsed = contextSchema.safeParse(context);
  if (!parsed.success) throw new UnauthorizedError('No authenticated caller');
  const { sub, tenant, scope, acceptedUntil } = parsed.data;
  return { subject: sub, tenant, scopes: scope.split(' ').filter((s) => s.length > 0), acceptedUntil };
}

/**
 * The member this call answers for, from the principal and `X-User-ID` (undefined when the header was left out).
 * @throws UnauthorizedError (401) for a token past `acceptedUntil` (an Allow API Gateway cached longer than the token
 *   lives), ValidationError (400) for an act-as token without `X-User-ID`, UserMismatchError (403) for a member's
 *   token naming someone else.
 */
export function resolveApiIdentity(
  principal: ApiPrincipal,
  userHeader: string | undefined,
  nowMs: number,
): ApiIdentity {
  const overdueMs = nowMs - principal.acceptedUntil * 1000;
  if (overdueMs > 0) throw new UnauthorizedError(`Unauthorized: the token expired ${duration(overdueMs)} ago`);
  const { subject, tenant } = principal;
  if (principal.scopes.includes(ACT_AS_SCOPE)) {
    if (userHeader === undefined) {
      throw new ValidationError(
        `header X-User-ID is required: a token with the ${ACT_AS_SCOPE} scope answers for the member it names`,
      );
    }
    return { tenant, userId: userHeader, principal: subject };
  }
  if (userHeader !== undefined && userHeader !== subject) {
    throw new UserMismatchError(
      `X-User-ID ${JSON.stringify(userHeader)} is not the token's subject ${JSON.stringify(subject)}: a token acts ` +
        `only for its own subject (leave X-User-ID out, or send the subject) unless it has the ${ACT_AS_SCOPE} scope`,
    );
  }
  return { tenant, userId: subject, principal: subject };
}
