import { parseOptions, USAGE, UsageError } from '../../../sandbox/mint-token-options';

/** `sandbox/mint-token.ts`'s flags: every rule, without a process (the CLI itself: test/integration/chat-api). */

const parse = (args: readonly string[], env: Record<string, string> = {}) => parseOptions(args, env);

function usageError(args: readonly string[], env: Record<string, string> = {}): string {
  try {
    parse(args, env);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error('expected a UsageError');
}

describe('parseOptions', () => {
  it('a member token by default: tenant sandbox, an hour, no act-as, the configured issuer and audience', () => {
    expect(parse(['--sub', 'alice'])).toEqual({ sub: 'alice', tenant: 'sandbox', actAs: false, ttl: 3600 });
  });

  it('reads every flag', () => {
    const args = ['--sub', 'portal', '--tenant', 'acme', '--act-as', '--ttl', '600', '--aud', 'x', '--iss', 'y'];
    expect(parse(args)).toEqual({ sub: 'portal', tenant: 'acme', actAs: true, ttl: 600, aud: 'x', iss: 'y' });
    expect(parse(['--sub=portal', '--tenant=acme'])).toMatchObject({ sub: 'portal', tenant: 'acme' });
  });

  it.each([['--help'], ['-h'], ['--sub', 'a', '--help']])('%j asks for the usage', (...args) => {
    expect(parse(args)).toBe('help');
  });

  it.each<[string, string[], string]>([
    ['an unknown flag', ['--sub', 'a', '--bogus'], "Unknown option '--bogus'"],
    ['a positional argument', ['alice'], "Unexpected argument 'alice'"],
    ['a flag without its value', ['--sub'], "Option '--sub <value>' argument missing"],
    ['a value given to --act-as', ['--sub', 'a', '--act-as=yes'], "Option '--act-as' does not take an argument"],
    ['no --sub', ['--tenant', 'acme'], '--sub is required'],
    [
      'a --ttl that is not a number',
      ['--sub', 'a', '--ttl', '1h'],
      "--ttl must be a whole number of seconds, got '1h'",
    ],
    ['a fractional --ttl', ['--sub', 'a', '--ttl', '1.5'], "--ttl must be a whole number of seconds, got '1.5'"],
    ['a --ttl of 0', ['--sub', 'a', '--ttl', '0'], "--ttl must be a whole number of seconds, got '0'"],
    [
      'a --ttl over the API’s lifetime',
      ['--sub', 'a', '--ttl', '86401'],
      '--ttl 86401 is over the 86400 s token lifetime',
    ],
    [
      'a --sub of 256 characters',
      ['--sub', 'x'.repeat(256)],
      '--sub: invalid claim "sub": is longer than 255 characters',
    ],
    ['an empty --sub', ['--sub', ''], '--sub: invalid claim "sub": must not be empty'],
    [
      'a --tenant with a newline',
      ['--sub', 'a', '--tenant', 'a\nb'],
      '--tenant: invalid claim "tenant": contains control',
    ],
    ['an empty --aud', ['--sub', 'a', '--aud', ''], '--aud must not be empty'],
    ['an empty --iss', ['--sub', 'a', '--iss', ''], '--iss must not be empty'],
  ])('refuses %s', (_name, args, message) => {
    expect(usageError(args)).toContain(message);
  });

  it('names every problem at once', () => {
    expect(usageError(['--tenant', '', '--ttl=-5'])).toBe(
      '--sub is required\n--tenant: invalid claim "tenant": must not be empty\n--ttl must be a whole number of seconds, got \'-5\'',
    );
  });

  it('takes the longest --ttl from JWT_MAX_TOKEN_LIFETIME_SECONDS', () => {
    const env = { JWT_MAX_TOKEN_LIFETIME_SECONDS: '600' };
    expect(parse(['--sub', 'a', '--ttl', '600'], env)).toMatchObject({ ttl: 600 });
    expect(usageError(['--sub', 'a', '--ttl', '601'], env)).toBe(
      '--ttl 601 is over the 600 s token lifetime the API accepts',
    );
    expect(usageError(['--sub', 'a'], { JWT_MAX_TOKEN_LIFETIME_SECONDS: '60' })).toContain(
      '--ttl 3600 is over the 60 s',
    );
  });
});

describe('USAGE', () => {
  it('lists every flag the parser knows, with the defaults it applies', () => {
    for (const flag of [
      '--sub <subject>',
      '--tenant <tenant>',
      '--act-as',
      '--ttl <seconds>',
      '--aud <audience>',
      '--iss <issuer>',
      '-h, --help',
    ]) {
      expect(USAGE).toContain(flag);
    }
    expect(USAGE).toContain('(default: sandbox)');
    expect(USAGE).toContain('default: 3600');
    expect(USAGE).toContain('scope "chat:act_as"');
  });
});
