import { parseSkillsConfig } from '#config/skills-config';
import { DEFAULT_MESSAGES, type PipelinePorts, runPipeline, type SafetyVerdict } from '#core/answer-pipeline';
import type { ReplyImage } from '#core/reply-image';
import { createPiiMasker } from '#core/safety/pii';
import { SKILL_PROTOCOL_VERSION } from '#core/skills/remote-protocol';
import { remoteSkill } from '#core/skills/remote-skill';
import { renderBarChart } from '#data-analysis/chart';

/**
 * A skill's images through `runPipeline`: the remote skill's parsed images reach the outcome with their alt text
 * screened like the answer (moderation, PII masking), a blocked answer or alt text drops them, and they never reach
 * the FAQ cache or the conversation context.
 */

const chart = renderBarChart([4, 2, 9]);
const wireImage = (alt: string) => ({ mediaType: 'image/png', data: Buffer.from(chart).toString('base64'), alt });

function harness(response: unknown) {
  const masker = createPiiMasker();
  const moderate = async (text: string): Promise<SafetyVerdict> => {
    if (text.includes('NSFW')) return { decision: 'block', text: '', maxLevel: 3 };
    if (text.includes('secretword')) return { decision: 'mask', text: text.replace('secretword', '***'), maxLevel: 1 };
    return { decision: 'allow', text, maxLevel: 0 };
  };
  const [config] = parseSkillsConfig(
    JSON.stringify({
      remote: [{ name: 'data', description: 'Data', url: 'http://127.0.0.1:1/', commands: ['/data'] }],
    }),
  ).remote;
  if (!config) throw new Error('no skill');
  const skill = remoteSkill(config, {
    invoke: async () => response,
    now: () => 0,
    newRequestId: () => 'r1',
    report: () => undefined,
  });
  const ports: PipelinePorts<string> = {
    loadContext: async () => ({ turns: [], handle: 'v' }),
    clearContext: async () => undefined,
    cacheKey: () => 'k',
    primaryModelId: 'm',
    cacheGet: async () => undefined,
    moderateInput: moderate,
    moderateOutput: moderate,
    maskPii: (text) => {
      const masked = masker(text);
      return { text: masked.text, found: masked.findings.reduce((n, f) => n + f.count, 0) };
    },
    buildMessages: () => {
      throw new Error('the model path must not run for a skill answer');
    },
    invokeModel: async () => {
      throw new Error('the model must not be called for a skill answer');
    },
    skills: [skill],
    messages: DEFAULT_MESSAGES,
  };
  return (maskModelOutput?: boolean) =>
    runPipeline(
      {
        conversationKey: 'slack#T#C#U',
        text: '/data sales units by region',
        deadline: 60_000,
        ...(maskModelOutput === undefined ? {} : { maskModelOutput }),
      },
      ports,
    );
}

const answer = (reply: string, images: unknown[]) => ({
  version: SKILL_PROTOCOL_VERSION,
  action: 'answer',
  reply,
  images,
});

describe('runPipeline: a skill answer with images', () => {
  it('carries the decoded image to the outcome, and nothing of it to the cache or the context', async () => {
    const outcome = await harness(answer('| region | units |', [wireImage('Units by region')]))();
    expect(outcome).toMatchObject({ source: 'skill', skill: 'data', reply: '| region | units |' });
    expect(outcome.images).toEqual<ReplyImage[]>([
      { mediaType: 'image/png', data: new Uint8Array(chart), alt: 'Units by region', width: 108, height: 220 },
    ]);
    expect(outcome.cachePut).toBeUndefined();
    expect(outcome.saveTurn).toBeUndefined();
  });

  it('screens alt text like the answer: a masked term, and PII unless the group opted out of masking', async () => {
    const run = harness(answer('table', [wireImage('secretword units, call 13812345678')]));
    expect((await run()).images?.[0]?.alt).toBe('*** units, call [手机号]');
    expect((await run(false)).images?.[0]?.alt).toBe('*** units, call 13812345678');
  });

  it('drops an image whose alt text moderation blocks, keeping the others', async () => {
    const outcome = await harness(answer('table', [wireImage('NSFW'), wireImage('Units by region')]))();
    expect(outcome.images?.map((image) => image.alt)).toEqual(['Units by region']);
  });

  it('a blocked answer becomes the refusal, without its images', async () => {
    const outcome = await harness(answer('NSFW table', [wireImage('Units by region')]))();
    expect(outcome).toMatchObject({ outputFilter: 'block', reply: DEFAULT_MESSAGES.modelUnavailable });
    expect(outcome).not.toHaveProperty('images');
  });

  it('an answer whose images were all dropped by the protocol has none', async () => {
    const outcome = await harness(answer('table', [{ mediaType: 'image/gif', data: 'R0lG', alt: 'x' }]))();
    expect(outcome.reply).toBe('table');
    expect(outcome).not.toHaveProperty('images');
  });
});
