import { parseSkillResponse, SKILL_PROTOCOL_VERSION } from '#core/skills/remote-protocol';
import { createHttpSkillInvoker } from '#skills/http-invoker';
import {
  answerDocsRequest,
  buildDocsIndex,
  docsCorpus,
  MAX_DOCS_PASSAGES,
  startDocsSkill,
} from '../../../sandbox/skills/docs-skill';
import type { RunningSkillServer, SkillServerRequest } from '../../../sandbox/skills/skill-server';

/**
 * The sandbox's document-retrieval skill over this repository's own docs: what it grounds, what it declines, and the
 * same over real HTTP through GroupGate's own skill invoker.
 */

const docs = buildDocsIndex(docsCorpus());
const request = (text: string, extra: { command?: string; args?: string } = {}): SkillServerRequest => ({
  version: SKILL_PROTOCOL_VERSION,
  skill: 'docs',
  requestId: 'r-1',
  text,
  deadlineMs: 3000,
  ...extra,
});

describe('answerDocsRequest', () => {
  it('indexes README.md and every doc under docs/, platform guides included', () => {
    const paths = new Set(docs.chunks.map((chunk) => chunk.path));
    expect(paths).toContain('README.md');
    expect(paths).toContain('docs/OPERATIONS.md');
    expect(paths).toContain('docs/platforms/feishu.md');
  });

  it.each([
    ['how do I set up the Feishu bot?', 'docs/platforms/feishu.md'],
    ['如何配置飞书机器人?', 'docs/platforms/feishu.md'],
    ['how do I rotate the Slack signing secret', 'docs/platforms/slack.md'],
    ['how do I add a third-party skill?', 'docs/SKILLS.md'],
  ])('grounds "%s" in sections that include %s', (text, path) => {
    const response = answerDocsRequest(request(text), docs);
    expect(response.action).toBe('ground');
    if (response.action !== 'ground') return;
    expect(response.passages.length).toBeLessThanOrEqual(MAX_DOCS_PASSAGES);
    expect(response.passages.map((passage) => passage.title).join('\n')).toContain(`(${path})`);
    // Every answer is a valid v1 response GroupGate accepts.
    expect(parseSkillResponse(response).ok).toBe(true);
  });

  it.each(['hello there', 'good morning everyone', 'what is the weather today', 'thanks a lot!', '谢谢', ''])(
    'declines small talk: "%s"',
    (text) => {
      expect(answerDocsRequest(request(text), docs)).toEqual({ version: SKILL_PROTOCOL_VERSION, action: 'decline' });
    },
  );

  it("declines commands, another skill's business", () => {
    for (const extra of [{ command: '/define', args: 'skills' }, {}]) {
      const text = 'command' in extra ? 'skills' : '/define skills';
      expect(answerDocsRequest(request(text, extra), docs).action).toBe('decline');
    }
  });
});

describe('over HTTP', () => {
  let skill: RunningSkillServer & { readonly chunks: number };
  beforeAll(async () => {
    skill = await startDocsSkill();
  });
  afterAll(async () => {
    await skill?.stop();
  });

  it("GroupGate's invoker gets a grounding it accepts", async () => {
    const invoke = createHttpSkillInvoker({ urlOf: () => skill.url });
    const raw = await invoke(request('how do I set up the Feishu bot?'), 2000);
    const parsed = parseSkillResponse(raw);
    expect(parsed.ok && parsed.response.action).toBe('ground');
    expect(skill.calls().at(-1)).toMatchObject({ status: 200, action: 'ground' });
    expect(skill.chunks).toBe(docs.chunks.length);
  });
});
