import { parseSkillResponse, SKILL_PROTOCOL_VERSION } from '#core/skills/remote-protocol';
import type { SkillRequestInput } from '#core/skills/skill-request';
import { createHttpSkillInvoker } from '#skills/http-invoker';
import { type SandboxKnowledge, startSandboxKnowledge } from '../../../sandbox/knowledge/knowledge-sandbox';

/**
 * The sandbox's knowledge base over this repository's own docs, as `npm start` runs it: README.md and docs/ ingested
 * into PGlite with pgvector through the same ingestion, embedding contract and store code AWS runs, served by the
 * knowledge skill over protocol v1, called through GroupGate's own skill invoker.
 */

let knowledge: SandboxKnowledge;
beforeAll(async () => {
  knowledge = await startSandboxKnowledge();
}, 60_000);
afterAll(async () => {
  await knowledge?.stop();
});

const request = (text: string, platform = 'slack', chatId = 'C-eng', command?: string): SkillRequestInput => ({
  version: SKILL_PROTOCOL_VERSION,
  skill: 'knowledge',
  requestId: 'r-1',
  text,
  deadlineMs: 3000,
  origin: { platform, chatId, memberRef: 'm-1' },
  ...(command ? { command } : {}),
});
const ask = async (input: SkillRequestInput) => {
  const url = knowledge.skill.url;
  if (!url) throw new Error('the sandbox knowledge skill has no url');
  const raw = await createHttpSkillInvoker({ urlOf: () => url })(input, 3000);
  const parsed = parseSkillResponse(raw);
  if (!parsed.ok) throw new Error(`not a v1 response: ${JSON.stringify(raw)}`);
  return parsed.response;
};

describe('the sandbox knowledge base', () => {
  it('ingests README.md and every doc under docs/, platform guides included, and rejects none', () => {
    const added = new Set(knowledge.firstIngest.added);
    for (const path of ['README.md', 'docs/OPERATIONS.md', 'docs/KNOWLEDGE.md', 'docs/platforms/feishu.md']) {
      expect(added).toContain(path);
    }
    expect(knowledge.firstIngest.rejected).toEqual([]);
    expect(knowledge.firstIngest.failed).toEqual([]);
  });

  it.each([
    ['how do I set up the Feishu bot?', 'docs/platforms/feishu.md'],
    ['如何配置飞书机器人?', 'docs/platforms/feishu.md'],
    ['how do I rotate the Slack signing secret', 'docs/platforms/slack.md'],
    ['how do I add a third-party skill?', 'docs/SKILLS.md'],
  ])('grounds "%s" in sections that include %s', async (text, path) => {
    const response = await ask(request(text));
    expect(response.action).toBe('ground');
    if (response.action !== 'ground') return;
    expect(response.passages.length).toBeLessThanOrEqual(3);
    expect(response.passages.map((passage) => passage.title).join('\n')).toContain(`(${path})`);
  });

  it.each(['hello there', 'good morning everyone', 'thanks a lot!', '谢谢'])(
    'declines small talk: "%s"',
    async (text) => {
      expect((await ask(request(text))).action).toBe('decline');
    },
  );

  it('declines commands, and groups the base does not admit (/v1/chat callers)', async () => {
    expect((await ask(request('/define skills'))).action).toBe('decline');
    expect((await ask(request('skills', 'slack', 'C-eng', '/define'))).action).toBe('decline');
    expect((await ask(request('how do I set up the Feishu bot?', 'api', 'team-a'))).action).toBe('decline');
  });

  it('re-ingests on demand: nothing changed, nothing re-read', async () => {
    const report = await knowledge.reingest();
    expect(report).toMatchObject({ added: [], updated: [], deleted: [], rejected: [], failed: [] });
    expect(report.unchanged).toBe(knowledge.firstIngest.added.length);
  });
});
