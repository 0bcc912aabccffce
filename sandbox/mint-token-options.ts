import { parseArgs } from 'node:util';
import { DEFAULT_JWT_MAX_TOKEN_LIFETIME_SECONDS } from '#config/chat-api-config';
import { ENV } from '#config/env-names';
import { ACT_AS_SCOPE, claimProblem, TENANT_CLAIM } from '#core/api-identity';
import { SANDBOX_API_DEFAULTS } from './rest-api';

/** `sandbox/mint-token.ts`'s command line: its usage text and the parsing of its flags, kept apart to be tested. */

const DEFAULT_TENANT = 'sandbox';
const DEFAULT_TTL_SECONDS = 3600;

export const USAGE = `Usage: npx tsx sandbox/mint-token.ts --sub <subject> [--tenant <tenant>] [--act-as] [--ttl <seconds>]
                                     [--aud <audience>] [--iss <issuer>]

Prints a JWT for the sandbox's POST /v1/chat (Authorization: Bearer <JWT>) on stdout.

Flags:
  --sub <subject>    required: the "sub" claim, the principal. A member's token acts only for this member:
                     X-User-ID may be left out, and if sent must equal it (else 403 user_mismatch).
  --tenant <tenant>  the "${TENANT_CLAIM}" claim: the organisation whose contexts, ledger rows and audit the calls
                     belong to (default: ${DEFAULT_TENANT}).
  --act-as           adds scope "${ACT_AS_SCOPE}": a trusted integration (e.g. an internal portal) that answers
                     for the member it names in X-User-ID, which is then required (else 400).
  --ttl <seconds>    lifetime, exp - iat (default: ${DEFAULT_TTL_SECONDS}; at most ${ENV.jwtMaxTokenLifetimeSeconds},
                     default ${DEFAULT_JWT_MAX_TOKEN_LIFETIME_SECONDS}).
  --aud <audience>   the "aud" claim (default: ${ENV.jwtAudience}, else ${SANDBOX_API_DEFAULTS.jwtAudience}).
  --iss <issuer>     the "iss" claim (default: ${ENV.jwtIssuer}, else ${SANDBOX_API_DEFAULTS.jwtIssuer}).
                     Another --aud or --iss than the sandbox's shows its 401 hints.
  -h, --help         this text.

Environment (the variables the sandbox reads, so a token minted here matches it):
  ${ENV.jwtSecret}                      the HS256 key (default: the sandbox's public default secret)
  ${ENV.jwtIssuer}, ${ENV.jwtAudience}        the default --iss and --aud
  ${ENV.jwtMaxTokenLifetimeSeconds}  the longest --ttl
  ${ENV.jwtJwksUrl}                    when set, tokens come from that issuer: this script refuses (exit 2)

Examples:
  # A member: alice of tenant acme, asking for herself.
  curl -s http://127.0.0.1:3000/v1/chat -H 'content-type: application/json' -H 'x-api-key: ${SANDBOX_API_DEFAULTS.apiKeys}' \\
    -H "authorization: Bearer $(npx tsx sandbox/mint-token.ts --sub alice --tenant acme)" \\
    -H 'x-group-id: eng' -d '{"query":"hello"}'

  # An act-as service token: the portal answers for bob, named in X-User-ID.
  TOKEN=$(npx tsx sandbox/mint-token.ts --sub helpdesk-portal --tenant acme --act-as --ttl 600)
  curl -s http://127.0.0.1:3000/v1/chat -H 'content-type: application/json' -H 'x-api-key: ${SANDBOX_API_DEFAULTS.apiKeys}' \\
    -H "authorization: Bearer $TOKEN" -H 'x-group-id: eng' -H 'x-user-id: bob' -d '{"query":"hello"}'

Exit status: 0 with the token printed, 2 on a usage or configuration error.
`;

/** A mistake in the command line: reported with the usage, exit 2. */
export class UsageError extends Error {}

export interface MintOptions {
  readonly sub: string;
  readonly tenant: string;
  readonly actAs: boolean;
  readonly ttl: number;
  readonly aud?: string;
  readonly iss?: string;
}

/**
 * The options of a command line, or `'help'`. `env` gives the longest lifetime the API accepts.
 * @throws UsageError naming every problem.
 */
export function parseOptions(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): MintOptions | 'help' {
  let values: ReturnType<typeof parse>['values'];
  try {
    values = parse(args).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return 'help';
  const problems: string[] = [];
  if (values.sub === undefined) problems.push('--sub is required');
  const tenant = values.tenant ?? DEFAULT_TENANT;
  for (const [flag, value] of [
    ['--sub', values.sub],
    ['--tenant', tenant],
  ] as const) {
    const problem = value === undefined ? undefined : claimProblem(flag.slice(2), value);
    if (problem) problems.push(`${flag}: ${problem.hint}`);
  }
  const ttl = Number(values.ttl ?? DEFAULT_TTL_SECONDS);
  // The authorizer refuses tokens whose exp - iat is over the maximum lifetime.
  const maxLifetime = Number(env[ENV.jwtMaxTokenLifetimeSeconds] || DEFAULT_JWT_MAX_TOKEN_LIFETIME_SECONDS);
  if (!Number.isInteger(ttl) || ttl <= 0) problems.push(`--ttl must be a whole number of seconds, got '${values.ttl}'`);
  else if (ttl > maxLifetime) problems.push(`--ttl ${ttl} is over the ${maxLifetime} s token lifetime the API accepts`);
  for (const flag of ['aud', 'iss'] as const) {
    if (values[flag] === '') problems.push(`--${flag} must not be empty`);
  }
  if (problems.length > 0 || values.sub === undefined) throw new UsageError(problems.join('\n'));
  return {
    sub: values.sub,
    tenant,
    actAs: values['act-as'] ?? false,
    ttl,
    ...(values.aud !== undefined ? { aud: values.aud } : {}),
    ...(values.iss !== undefined ? { iss: values.iss } : {}),
  };
}

function parse(args: readonly string[]) {
  return parseArgs({
    args: [...args],
    strict: true,
    allowPositionals: false,
    options: {
      sub: { type: 'string' },
      tenant: { type: 'string' },
      'act-as': { type: 'boolean' },
      ttl: { type: 'string' },
      aud: { type: 'string' },
      iss: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
