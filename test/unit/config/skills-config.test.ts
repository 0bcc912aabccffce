import { enabledSkillsFor, parseSkillsConfig } from '#config/skills-config';
import { ConfigError } from '#core/errors';

/** `SKILLS`: the shape every function and the CDK app read, and the problems it names. */

const ARN = 'arn:aws:lambda:eu-west-1:123456789012:function:glossary';
const skill = (overrides: Record<string, unknown> = {}) => ({
  name: 'glossary',
  description: 'Company terms',
  functionArn: ARN,
  ...overrides,
});

function problems(config: unknown): readonly string[] {
  try {
    parseSkillsConfig(typeof config === 'string' ? config : JSON.stringify(config));
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('parseSkillsConfig', () => {
  it('unset or blank: no remote skills, the default groups', () => {
    for (const raw of [undefined, '', '  ']) {
      const config = parseSkillsConfig(raw);
      expect(config).toEqual({ remote: [] });
      expect([...enabledSkillsFor(config, 'slack:C1')]).toEqual(['cost']);
    }
  });

  it('fills the default timeout and keeps what was given', () => {
    const config = parseSkillsConfig(JSON.stringify({ remote: [skill({ commands: ['/define'] })] }));
    expect(config.remote).toEqual([{ ...skill({ commands: ['/define'] }), timeoutMs: 3000 }]);
  });

  it.each([
    ['not JSON', '{', 'SKILLS: is not valid JSON'],
    ['an unknown key', { remote: [], extra: 1 }, 'SKILLS:'],
    ['a bad name', { remote: [skill({ name: 'Glossary!' })] }, 'SKILLS.remote[0].name: must be 2–32 characters'],
    [
      'a built-in name',
      { remote: [skill({ name: 'reset' })] },
      'SKILLS.remote[0].name: is the name of a built-in skill',
    ],
    [
      'both ARN and url',
      { remote: [skill({ url: 'http://127.0.0.1:1/' })] },
      'needs exactly one of functionArn and url',
    ],
    [
      'neither ARN nor url',
      { remote: [skill({ functionArn: undefined })] },
      'needs exactly one of functionArn and url',
    ],
    ['a bad ARN', { remote: [skill({ functionArn: 'arn:aws:s3:::bucket' })] }, 'must be a Lambda function ARN'],
    ['a pattern that does not compile', { remote: [skill({ pattern: '(' })] }, 'must be a valid regular expression'],
    [
      'a catastrophic pattern',
      { remote: [skill({ pattern: '^(a+)+$' })] },
      'must not repeat a group that itself repeats',
    ],
    ['a timeout over 10 s', { remote: [skill({ timeoutMs: 20_000 })] }, 'SKILLS.remote[0].timeoutMs: Too big'],
    ['a built-in command', { remote: [skill({ commands: ['/RESET'] })] }, '/RESET is already built in'],
    ['a Chinese built-in command', { remote: [skill({ commands: ['#费用'] })] }, '#费用 is already built in'],
    [
      'a command two skills claim (after normalisation)',
      { remote: [skill({ commands: ['/x'] }), skill({ name: 'other', commands: ['／X'] })] },
      '／X is already a command of glossary',
    ],
    ['a skill named twice', { remote: [skill(), skill()] }, 'glossary is named twice'],
    ['a bad group key', { groups: { 'teams:C1': ['cost'] } }, 'keys must be * or platform:chatId'],
    ['an unknown skill in a group', { groups: { '*': ['glosary'] } }, 'unknown skill glosary (known: cost)'],
    ['an always-on skill listed', { groups: { '*': ['help'] } }, 'help is always on; leave it out'],
  ])('refuses %s, naming it', (_label, config, expected) => {
    expect(problems(config).join('\n')).toContain(expected);
  });

  it('accepts a bounded pattern (control)', () => {
    expect(() =>
      parseSkillsConfig(JSON.stringify({ remote: [skill({ pattern: '\\b(define|what is)\\b' })] })),
    ).not.toThrow();
  });
});

describe('enabledSkillsFor', () => {
  const config = parseSkillsConfig(
    JSON.stringify({ remote: [skill()], groups: { '*': ['cost'], 'slack:C1': ['glossary'] } }),
  );

  it("a group's own entry replaces *; other groups get *", () => {
    expect([...enabledSkillsFor(config, 'slack:C1')]).toEqual(['glossary']);
    expect([...enabledSkillsFor(config, 'slack:C2')]).toEqual(['cost']);
  });

  it("a platform-wide entry applies to that platform's groups without their own entry", () => {
    const wide = parseSkillsConfig(
      JSON.stringify({ remote: [skill()], groups: { '*': ['glossary'], 'api:*': ['cost'], 'api:eng': [] } }),
    );
    expect([...enabledSkillsFor(wide, 'api:sales')]).toEqual(['cost']);
    expect([...enabledSkillsFor(wide, 'api:eng')]).toEqual([]);
    expect([...enabledSkillsFor(wide, 'slack:C1')]).toEqual(['glossary']);
  });

  it('without groups a remote skill is enabled nowhere', () => {
    const noGroups = parseSkillsConfig(JSON.stringify({ remote: [skill()] }));
    expect(enabledSkillsFor(noGroups, 'slack:C1').has('glossary')).toBe(false);
  });
});
