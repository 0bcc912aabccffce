import {
  baseOfObject,
  KNOWLEDGE_SKILL_NAME,
  knowledgeBasesFor,
  parseKnowledgeConfig,
  withKnowledgeSkill,
} from '#config/knowledge-config';
import { enabledSkillsFor, parseSkillsConfig } from '#config/skills-config';
import { ConfigError } from '#core/errors';

/** `KNOWLEDGE_BASES`: the bases, who may read them (the access control), and how they enable the knowledge skill. */

const base = (overrides: Record<string, unknown> = {}) => ({
  id: 'handbook',
  title: 'Employee handbook',
  prefix: 'handbook/',
  groups: ['*'],
  ...overrides,
});

function problems(config: unknown): readonly string[] {
  try {
    parseKnowledgeConfig(typeof config === 'string' ? config : JSON.stringify(config));
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

const knowledgeSkill = {
  name: KNOWLEDGE_SKILL_NAME,
  description: 'Company documents',
  url: 'http://127.0.0.1:1/',
  timeoutMs: 3000,
};

describe('parseKnowledgeConfig', () => {
  it('unset or blank: no bases', () => {
    for (const raw of [undefined, '', ' ']) expect(parseKnowledgeConfig(raw)).toEqual({ bases: [] });
  });

  it('accepts bases with https links and group entries of every form', () => {
    const config = parseKnowledgeConfig(
      JSON.stringify({
        bases: [
          base({ urlBase: 'https://wiki.example.com/handbook/' }),
          base({ id: 'finance', prefix: 'finance/', groups: ['feishu:oc_42', 'slack:*'] }),
        ],
      }),
    );
    expect(config.bases.map((b) => b.id)).toEqual(['handbook', 'finance']);
  });

  it('names every problem with its path', () => {
    expect(problems('{')).toEqual(['KNOWLEDGE_BASES: is not valid JSON']);
    const found = problems({
      bases: [
        base({ id: 'Bad Id' }),
        base({ id: 'b2', prefix: 'no-slash' }),
        base({ id: 'b3', prefix: 'x/../y/' }),
        base({ id: 'b4', prefix: 'b4/', urlBase: 'http://wiki.example.com/' }),
        base({ id: 'b5', prefix: 'b5/', groups: ['teams:C1'] }),
        base({ id: 'b6', prefix: 'b6/', groups: [] }),
      ],
    });
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^KNOWLEDGE_BASES\.bases\[0\]\.id: must be 2–32 characters/),
        expect.stringMatching(/^KNOWLEDGE_BASES\.bases\[1\]\.prefix: must be an S3 key prefix ending in \//),
        'KNOWLEDGE_BASES.bases[2].prefix: must not contain ..',
        'KNOWLEDGE_BASES.bases[3].urlBase: must be an https: URL',
        expect.stringMatching(/^KNOWLEDGE_BASES\.bases\[4\]\.groups\[0\]: must be \* or platform:chatId/),
        expect.stringMatching(/^KNOWLEDGE_BASES\.bases\[5\]\.groups: /),
      ]),
    );
  });

  it('refuses a duplicate id and prefixes that are equal or nested: a document would belong to two bases', () => {
    expect(problems({ bases: [base(), base({ prefix: 'other/' })] })).toEqual([
      'KNOWLEDGE_BASES.bases[1].id: handbook is named twice',
    ]);
    expect(problems({ bases: [base(), base({ id: 'hr', prefix: 'handbook/hr/' })] })).toEqual([
      "KNOWLEDGE_BASES.bases[1].prefix: handbook/hr/ is inside handbook's prefix handbook/: a document would belong to both",
    ]);
    expect(problems({ bases: [base(), base({ id: 'copy' })] })).toEqual([
      "KNOWLEDGE_BASES.bases[1].prefix: handbook/ is inside handbook's prefix handbook/: a document would belong to both",
    ]);
  });
});

describe('knowledgeBasesFor: the access control', () => {
  const config = parseKnowledgeConfig(
    JSON.stringify({
      bases: [
        base({ id: 'public', prefix: 'public/', groups: ['*'] }),
        base({ id: 'slack-all', prefix: 'slack/', groups: ['slack:*'] }),
        base({ id: 'finance', prefix: 'finance/', groups: ['feishu:oc_fin', 'slack:C0FIN'] }),
      ],
    }),
  );

  it('a group reads every base one of whose entries admits it, and no other', () => {
    expect(knowledgeBasesFor(config, 'feishu:oc_fin')).toEqual(['public', 'finance']);
    expect(knowledgeBasesFor(config, 'feishu:oc_other')).toEqual(['public']);
    expect(knowledgeBasesFor(config, 'slack:C0FIN')).toEqual(['public', 'slack-all', 'finance']);
    expect(knowledgeBasesFor(config, 'slack:C0FINANCE')).toEqual(['public', 'slack-all']);
    expect(knowledgeBasesFor(config, 'api:team-a')).toEqual(['public']);
  });

  it('a chat id that merely starts like another platform or chat is not admitted', () => {
    expect(knowledgeBasesFor(config, 'slackish:C0FIN')).toEqual(['public']);
    expect(knowledgeBasesFor({ bases: [] }, 'slack:C0FIN')).toEqual([]);
  });

  it('baseOfObject finds the one base of a key, never the prefix itself', () => {
    expect(baseOfObject(config, 'finance/q3/close.md')).toEqual({
      base: expect.objectContaining({ id: 'finance' }),
      relativeKey: 'q3/close.md',
    });
    expect(baseOfObject(config, 'finance/')).toBeUndefined();
    expect(baseOfObject(config, 'elsewhere/a.md')).toBeUndefined();
  });
});

describe('withKnowledgeSkill', () => {
  const knowledge = parseKnowledgeConfig(
    JSON.stringify({
      bases: [
        base({ id: 'slack-docs', prefix: 's/', groups: ['slack:*'] }),
        base({ id: 'fin', prefix: 'f/', groups: ['feishu:oc_fin'] }),
      ],
    }),
  );

  it('enables the skill exactly where a base admits the group, keeping every other skill the group had', () => {
    const skills = parseSkillsConfig(
      JSON.stringify({
        remote: [{ name: 'glossary', description: 'Terms', url: 'http://127.0.0.1:2/' }],
        groups: { '*': ['cost', 'glossary'], 'slack:C9': ['glossary'], 'api:*': ['cost'] },
      }),
    );
    const config = withKnowledgeSkill(skills, knowledge, knowledgeSkill);
    expect(config.remote.map((r) => r.name)).toEqual(['glossary', KNOWLEDGE_SKILL_NAME]);
    const enabled = (group: string) => [...enabledSkillsFor(config, group)].sort();
    expect(enabled('slack:C1')).toEqual(['cost', 'glossary', 'knowledge']);
    expect(enabled('slack:C9')).toEqual(['glossary', 'knowledge']);
    expect(enabled('feishu:oc_fin')).toEqual(['cost', 'glossary', 'knowledge']);
    expect(enabled('feishu:oc_other')).toEqual(['cost', 'glossary']);
    expect(enabled('api:team')).toEqual(['cost']);
    expect(enabled('wecom:w1')).toEqual(['cost', 'glossary']);
  });

  it('without groups in SKILLS, a new entry inherits the default (cost)', () => {
    const config = withKnowledgeSkill(parseSkillsConfig(undefined), knowledge, knowledgeSkill);
    expect([...enabledSkillsFor(config, 'slack:C1')].sort()).toEqual(['cost', 'knowledge']);
    expect([...enabledSkillsFor(config, 'dingtalk:d1')]).toEqual(['cost']);
  });

  it('a base for every group enables it under * and on every narrower entry', () => {
    const everyone = parseKnowledgeConfig(JSON.stringify({ bases: [base()] }));
    const skills = parseSkillsConfig(JSON.stringify({ groups: { 'slack:C9': [], 'api:*': ['cost'] } }));
    const config = withKnowledgeSkill(skills, everyone, knowledgeSkill);
    for (const group of ['slack:C9', 'api:x', 'feishu:y'])
      expect(enabledSkillsFor(config, group).has('knowledge')).toBe(true);
  });

  it('no bases: SKILLS unchanged; the name is reserved for the knowledge bases', () => {
    const skills = parseSkillsConfig(undefined);
    expect(withKnowledgeSkill(skills, { bases: [] }, knowledgeSkill)).toBe(skills);
    const taken = parseSkillsConfig(
      JSON.stringify({ remote: [{ name: 'knowledge', description: 'mine', url: 'http://127.0.0.1:3/' }] }),
    );
    expect(() => withKnowledgeSkill(taken, knowledge, knowledgeSkill)).toThrow(ConfigError);
  });
});
