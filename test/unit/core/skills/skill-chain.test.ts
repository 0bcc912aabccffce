import { costSkill } from '#core/skills/cost';
import { helpSkill } from '#core/skills/help';
import { resetSkill } from '#core/skills/reset';
import { commandSkill, runSkills, type Skill, type SkillContext } from '#core/skills/skill';

/** The skill chain on its own: order, short-circuit, pass-through, and the built-in command skills. */

function context(text: string, commandForm = text): SkillContext & { cleared: number } {
  const ctx = {
    text,
    commandForm,
    conversationKey: 'slack#T#C#U',
    cleared: 0,
    clearContext: async () => {
      ctx.cleared++;
    },
    outboundText: async () => text,
    deadline: Date.now() + 60_000,
  };
  return ctx;
}

/** A skill that logs its visit and answers only `answers`, else passes on. */
function probe(name: string, log: string[], answers?: string): Skill {
  return {
    name,
    async handle(ctx, next) {
      log.push(name);
      return ctx.text === answers ? { reply: `${name} answered`, source: 'command' } : next();
    },
  };
}

describe('runSkills', () => {
  it('runs the terminal handler when there are no skills', async () => {
    const result = await runSkills([], context('hi'), async () => 'model');
    expect(result).toEqual({ kind: 'final', value: 'model' });
  });

  it('visits skills in order and reaches the terminal handler when every skill passes', async () => {
    const log: string[] = [];
    const result = await runSkills([probe('a', log), probe('b', log)], context('hi'), async () => {
      log.push('final');
      return 42;
    });
    expect(log).toEqual(['a', 'b', 'final']);
    expect(result).toEqual({ kind: 'final', value: 42 });
  });

  it('stops at the first skill that answers: later skills and the terminal handler never run', async () => {
    const log: string[] = [];
    const final = jest.fn(async () => 'model');
    const result = await runSkills([probe('a', log), probe('b', log, 'x'), probe('c', log, 'x')], context('x'), final);
    expect(result).toEqual({ kind: 'skill', skill: 'b', reply: { reply: 'b answered', source: 'command' } });
    expect(log).toEqual(['a', 'b']);
    expect(final).not.toHaveBeenCalled();
  });

  it('returns the terminal value through a skill that returned what next() gave it', async () => {
    const wrapper: Skill = { name: 'wrapper', handle: async (_ctx, next) => await next() };
    expect(await runSkills([wrapper], context('hi'), async () => ({ answer: 1 }))).toEqual({
      kind: 'final',
      value: { answer: 1 },
    });
  });

  it('a terminal value shaped like a skill reply is still the terminal value', async () => {
    const result = await runSkills([probe('a', [])], context('hi'), async () => ({ reply: 'r', source: 'command' }));
    expect(result.kind).toBe('final');
  });

  it('propagates a skill failure (the caller retries the turn)', async () => {
    const failing: Skill = {
      name: 'failing',
      handle: async () => {
        throw new Error('ledger unavailable');
      },
    };
    await expect(runSkills([failing], context('hi'), async () => 'model')).rejects.toThrow('ledger unavailable');
  });
});

describe('commandSkill', () => {
  it('matches the command form exactly, not the text', async () => {
    const skill = commandSkill('ping', ['/ping'], async (ctx) => `pong ${ctx.conversationKey}`);
    const answered = await runSkills([skill], context('／PING', '/ping'), async () => 'model');
    expect(answered).toEqual({
      kind: 'skill',
      skill: 'ping',
      reply: { reply: 'pong slack#T#C#U', source: 'command' },
    });
    expect((await runSkills([skill], context('/ping now'), async () => 'model')).kind).toBe('final');
  });
});

describe('built-in skills', () => {
  it.each(['/reset', '#清除记忆', '/清除记忆'])('reset answers %j by clearing the conversation', async (command) => {
    const ctx = context(command);
    const result = await runSkills([resetSkill('cleared')], ctx, async () => 'model');
    expect(result).toMatchObject({ kind: 'skill', skill: 'reset', reply: { reply: 'cleared', source: 'command' } });
    expect(ctx.cleared).toBe(1);
  });

  it.each(['/cost', '#费用', '/费用'])('cost answers %j with the usage text', async (command) => {
    const usage = jest.fn(async () => 'usage report');
    const result = await runSkills([costSkill(usage)], context(command), async () => 'model');
    expect(result).toMatchObject({ kind: 'skill', skill: 'cost', reply: { reply: 'usage report' } });
    expect(usage).toHaveBeenCalledTimes(1);
  });

  it('neither touches what is not its command', async () => {
    const ctx = context('/costs');
    const usage = jest.fn(async () => 'usage report');
    const result = await runSkills([resetSkill('cleared'), costSkill(usage)], ctx, async () => 'model');
    expect(result).toEqual({ kind: 'final', value: 'model' });
    expect(ctx.cleared).toBe(0);
    expect(usage).not.toHaveBeenCalled();
  });
});

describe('grounding through the chain', () => {
  const passage = (title: string, skill: string) => ({ title, text: `${title} text`, skill });

  it('hands the terminal handler every passage the skills added, in chain order', async () => {
    const adds = (name: string, titles: string[]): Skill => ({
      name,
      handle: (_ctx, next) => next(titles.map((t) => passage(t, name))),
    });
    const declines: Skill = { name: 'quiet', handle: (_ctx, next) => next() };
    const result = await runSkills([adds('a', ['A1', 'A2']), declines, adds('b', ['B1'])], context('hi'), async (g) =>
      g.map((p) => `${p.skill}:${p.title}`),
    );
    expect(result).toEqual({ kind: 'final', value: ['a:A1', 'a:A2', 'b:B1'] });
  });

  it('a later skill that answers wins, and the passages before it are not used', async () => {
    let finalRan = false;
    const result = await runSkills(
      [{ name: 'a', handle: (_ctx, next) => next([passage('A', 'a')]) }, probe('b', [], 'hi')],
      context('hi'),
      async () => {
        finalRan = true;
      },
    );
    expect(result).toEqual({ kind: 'skill', skill: 'b', reply: { reply: 'b answered', source: 'command' } });
    expect(finalRan).toBe(false);
  });
});

describe('/help', () => {
  it("lists the group's entries in order after the intro, and passes other messages on", async () => {
    const skill = helpSkill('Intro:', [
      { name: '/reset', description: 'clear' },
      { name: 'glossary', description: 'terms' },
    ]);
    const result = await runSkills([skill], context('／HELP', '/help'), async () => 'model');
    expect(result).toEqual({
      kind: 'skill',
      skill: 'help',
      reply: { reply: 'Intro:\n• /reset — clear\n• glossary — terms', source: 'command' },
    });
    expect(await runSkills([skill], context('help me'), async () => 'model')).toEqual({
      kind: 'final',
      value: 'model',
    });
  });
});
