/**
 * Prints a JWT the sandbox's `/v1/chat` authorizer accepts (HS256 with JWT_SECRET, JWT_ISSUER, JWT_AUDIENCE or their
 * sandbox defaults):
 *
 *   npx tsx sandbox/mint-token.ts --sub alice [--ttl 3600]
 */
import { parseArgs } from 'node:util';
import { SignJWT } from 'jose';
import { DEFAULT_JWT_MAX_TOKEN_LIFETIME_SECONDS } from '#config/chat-api-config';
import { ENV } from '#config/env-names';
import { restApiHandlerEnv } from './rest-api';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { sub: { type: 'string' }, ttl: { type: 'string', default: '3600' } },
  });
  const ttl = Number(values.ttl);
  if (!values.sub || !Number.isInteger(ttl) || ttl <= 0) {
    throw new Error('usage: npx tsx sandbox/mint-token.ts --sub <subject> [--ttl <seconds>]');
  }
  // The authorizer refuses tokens whose exp - iat is over the maximum lifetime (JWT_MAX_TOKEN_LIFETIME_SECONDS).
  const maxLifetime = Number(process.env[ENV.jwtMaxTokenLifetimeSeconds] || DEFAULT_JWT_MAX_TOKEN_LIFETIME_SECONDS);
  if (ttl > maxLifetime) throw new Error(`--ttl ${ttl} is over the ${maxLifetime} s token lifetime the API accepts`);
  const env = restApiHandlerEnv(process.env);
  const secret = env[ENV.jwtSecret];
  if (!secret) throw new Error(`${ENV.jwtJwksUrl} is set: tokens come from that issuer, not from this script.`);
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(values.sub)
    .setIssuer(env[ENV.jwtIssuer] ?? '')
    .setAudience(env[ENV.jwtAudience] ?? '')
    .setIssuedAt()
    .setExpirationTime(`${ttl}s`)
    .sign(new TextEncoder().encode(secret));
  process.stdout.write(`${token}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(2);
});
