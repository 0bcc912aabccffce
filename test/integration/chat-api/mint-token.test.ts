jest.mock('jose', () => jest.requireActual('../../unit/chat-api/jose-cjs').joseAsCommonJs());

import { decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { SANDBOX_API_DEFAULTS } from '../../../sandbox/rest-api';
import { mintToken } from '../../helpers/run-script';

/**
 * `sandbox/mint-token.ts` as a person runs it: `--help` documents every flag, the env it reads and both kinds of
 * token; mistakes exit 2 with the usage; the tokens carry the identity model's claims, signed with the sandbox key.
 * (That the sandbox accepts them is shown in chat-api.test.ts, against a running sandbox.)
 */

// Unset, so the sandbox defaults apply whatever the developer's shell exports.
const CLEAN_ENV = {
  JWT_SECRET: undefined,
  JWT_ISSUER: undefined,
  JWT_AUDIENCE: undefined,
  JWT_JWKS_URL: undefined,
  JWT_MAX_TOKEN_LIFETIME_SECONDS: undefined,
};
const mint = (args: readonly string[], env: Record<string, string | undefined> = {}) =>
  mintToken(args, { ...CLEAN_ENV, ...env });

describe('--help', () => {
  it('prints the usage on stdout and exits 0', async () => {
    const { code, stdout, stderr } = await mint(['--help']);
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(stdout).toMatch(/^Usage: npx tsx sandbox\/mint-token\.ts --sub <subject>/);
    for (const flag of ['--sub', '--tenant', '--act-as', '--ttl', '--aud', '--iss', '--help']) {
      expect(stdout).toContain(flag);
    }
    for (const env of ['JWT_SECRET', 'JWT_ISSUER', 'JWT_AUDIENCE', 'JWT_MAX_TOKEN_LIFETIME_SECONDS', 'JWT_JWKS_URL']) {
      expect(stdout).toContain(env);
    }
    // Both examples: a member's token, and an act-as token with the member in X-User-ID.
    expect(stdout).toContain('mint-token.ts --sub alice --tenant acme)');
    expect(stdout).toContain('mint-token.ts --sub helpdesk-portal --tenant acme --act-as');
    expect(stdout).toContain("-H 'x-user-id: bob'");
  }, 30_000);
});

describe('mistakes exit 2 with the reason and the usage on stderr', () => {
  // Every rule is unit-tested in test/unit/sandbox/mint-token-options.test.ts; these show what the process does.
  it.each<[string, string[], RegExp]>([
    ['an unknown flag', ['--sub', 'alice', '--bogus'], /^mint-token: Unknown option '--bogus'/],
    ['no --sub', ['--tenant', 'acme'], /^mint-token: --sub is required\n/],
  ])(
    '%s',
    async (_name, args, reason) => {
      const { code, stdout, stderr } = await mint(args);
      expect(code).toBe(2);
      expect(stdout).toBe('');
      expect(stderr).toMatch(reason);
      expect(stderr).toContain('\n\nUsage: npx tsx sandbox/mint-token.ts');
    },
    30_000,
  );

  it('refuses when JWT_JWKS_URL is set: tokens then come from that issuer', async () => {
    const { code, stdout, stderr } = await mint(['--sub', 'a'], { JWT_JWKS_URL: 'https://idp.example.com/jwks' });
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toBe('mint-token: JWT_JWKS_URL is set: tokens come from that issuer, not from this script.\n');
  }, 30_000);
});

describe('the tokens', () => {
  const key = new TextEncoder().encode(SANDBOX_API_DEFAULTS.jwtSecret);

  it('a member token: sub, tenant, no scope, the sandbox issuer and audience, an hour by default', async () => {
    const { code, stdout } = await mint(['--sub', 'alice', '--tenant', 'acme']);
    expect(code).toBe(0);
    const { payload, protectedHeader } = await jwtVerify(stdout.trim(), key, {
      issuer: SANDBOX_API_DEFAULTS.jwtIssuer,
      audience: SANDBOX_API_DEFAULTS.jwtAudience,
    });
    expect(protectedHeader).toEqual({ alg: 'HS256', typ: 'JWT' });
    expect(payload).toMatchObject({ sub: 'alice', tenant: 'acme' });
    expect(payload).not.toHaveProperty('scope');
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(3600);
  }, 30_000);

  it('an act-as token with overrides: scope chat:act_as, --ttl, --aud, --iss, and the default tenant', async () => {
    const args = ['--sub', 'portal', '--act-as', '--ttl', '600', '--aud', 'other-api', '--iss', 'other-idp'];
    const { code, stdout } = await mint(args);
    expect(code).toBe(0);
    const claims = decodeJwt(stdout.trim());
    expect(claims).toMatchObject({
      sub: 'portal',
      tenant: 'sandbox',
      scope: 'chat:act_as',
      aud: 'other-api',
      iss: 'other-idp',
    });
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(600);
  }, 30_000);

  it('signs with JWT_SECRET and uses JWT_ISSUER / JWT_AUDIENCE when set', async () => {
    const secret = 'a-developer-secret-of-enough-length-0123';
    const env = { JWT_SECRET: secret, JWT_ISSUER: 'my-idp', JWT_AUDIENCE: 'my-api' };
    const { stdout } = await mint(['--sub', 'alice'], env);
    const token = stdout.trim();
    expect(decodeProtectedHeader(token).alg).toBe('HS256');
    await expect(
      jwtVerify(token, new TextEncoder().encode(secret), { issuer: 'my-idp', audience: 'my-api' }),
    ).resolves.toBeDefined();
  }, 30_000);
});
