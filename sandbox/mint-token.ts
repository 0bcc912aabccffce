/**
 * Prints a JWT the sandbox's `/v1/chat` authorizer accepts (HS256 with JWT_SECRET, JWT_ISSUER, JWT_AUDIENCE or their
 * sandbox defaults), with the claims of the identity model (`functions/core/api-identity.ts`). `--help` says how.
 */
import { SignJWT } from 'jose';
import { ENV } from '#config/env-names';
import { ACT_AS_SCOPE, TENANT_CLAIM } from '#core/api-identity';
import { type MintOptions, parseOptions, USAGE, UsageError } from './mint-token-options';
import { restApiHandlerEnv } from './rest-api';

async function mint(options: MintOptions): Promise<string> {
  const env = restApiHandlerEnv(process.env);
  const secret = env[ENV.jwtSecret];
  if (!secret) throw new Error(`${ENV.jwtJwksUrl} is set: tokens come from that issuer, not from this script.`);
  const claims = { [TENANT_CLAIM]: options.tenant, ...(options.actAs ? { scope: ACT_AS_SCOPE } : {}) };
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(options.sub)
    .setIssuer(options.iss ?? env[ENV.jwtIssuer] ?? '')
    .setAudience(options.aud ?? env[ENV.jwtAudience] ?? '')
    .setIssuedAt()
    .setExpirationTime(`${options.ttl}s`)
    .sign(new TextEncoder().encode(secret));
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2), process.env);
  if (options === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  process.stdout.write(`${await mint(options)}\n`);
}

main().catch((err: unknown) => {
  const message = (err as Error).message;
  process.stderr.write(err instanceof UsageError ? `mint-token: ${message}\n\n${USAGE}` : `mint-token: ${message}\n`);
  process.exit(2);
});
