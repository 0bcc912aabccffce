import { PLATFORMS } from '#platforms/types';
import { type Rig, startRig, uniqueChat } from './harness';

let rig: Rig;

beforeAll(async () => {
  rig = await startRig();
}, 30_000);

afterAll(async () => {
  await rig?.stop();
});

beforeEach(() => {
  rig.clockOffsetMs = 0;
});

/** The prompt whose last message is this question (its masked form). */
function promptFor(question: string) {
  const found = rig.prompts.filter((p) => p.at(-1)?.content === question);
  expect(found).toHaveLength(1);
  return found[0] ?? [];
}

describe.each(PLATFORMS)('%s: per-member context through webhook → SQS → worker → platform', (platform) => {
  it('carries the first Q&A into the second prompt of the same member and no other', async () => {
    const chatId = uniqueChat(`ctx-${platform}`);
    const q1 = `Which port does the gateway use? (${chatId})`;
    await rig.say(platform, { chatId, userId: 'alice', text: q1 });
    expect(await rig.waitFor(1, (d) => d.chatId === chatId)).toHaveLength(1);

    const q2 = `And in staging? (${chatId})`;
    await rig.say(platform, { chatId, userId: 'alice', text: q2 });
    const q3 = `What is our on-call rota? (${chatId})`;
    await rig.say(platform, { chatId, userId: 'bob', text: q3 });
    const delivered = await rig.waitFor(3, (d) => d.chatId === chatId);
    expect(delivered).toHaveLength(3);

    const second = promptFor(q2);
    expect(second.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user']);
    expect(second[1]?.content).toBe(q1);
    expect(second[2]?.content).toBe(`answer to: ${q1}`);

    // Bob is in the same group but has his own conversation key: nothing of Alice's reaches his prompt.
    const bobs = promptFor(q3);
    expect(bobs.map((m) => m.role)).toEqual(['system', 'user']);
    expect(JSON.stringify(bobs)).not.toContain(q1);
    expect(JSON.stringify(bobs)).not.toContain('Which port');
    expect(delivered.map((d) => d.text).join('\n')).toContain(`answer to: ${q2}`);
  }, 30_000);
});

describe('context lifetime', () => {
  it('forgets the context 30 minutes after the last turn (injected clock), and keeps it just before', async () => {
    const chatId = uniqueChat('ttl');
    const q1 = `Remember the code word is teal (${chatId})`;
    const first = await rig.say('slack', { chatId, userId: 'carol', text: q1 });
    await rig.waitFor(1, (d) => d.chatId === chatId);
    // The turn is saved after the send: the clock may only jump once it is (else the save takes the later time).
    await rig.waitForReplied('slack', first);

    rig.clockOffsetMs = 29 * 60_000;
    const q2 = `What is the code word? (${chatId})`;
    const second = await rig.say('slack', { chatId, userId: 'carol', text: q2 });
    await rig.waitFor(2, (d) => d.chatId === chatId);
    await rig.waitForReplied('slack', second);
    expect(promptFor(q2).map((m) => m.content)).toContain(q1);

    // The second turn refreshed expiresAt to (29 + 30) minutes; 30 minutes after it, the context is gone.
    rig.clockOffsetMs = (29 + 30) * 60_000 + 1_000;
    const q3 = `What was the code word again? (${chatId})`;
    await rig.say('slack', { chatId, userId: 'carol', text: q3 });
    await rig.waitFor(3, (d) => d.chatId === chatId);
    expect(promptFor(q3).map((m) => m.role)).toEqual(['system', 'user']);
  }, 30_000);

  it('clears the context on /reset and on #清除记忆', async () => {
    for (const command of ['/reset', '#清除记忆']) {
      const chatId = uniqueChat('reset');
      const q1 = `My project is Falcon (${chatId})`;
      await rig.say('feishu', { chatId, userId: 'dave', text: q1 });
      await rig.waitFor(1, (d) => d.chatId === chatId);
      await rig.say('feishu', { chatId, userId: 'dave', text: command });
      const acks = await rig.waitFor(2, (d) => d.chatId === chatId);
      expect(acks[1]?.text).toContain('Context cleared');
      const q2 = `Which project is mine? (${chatId})`;
      await rig.say('feishu', { chatId, userId: 'dave', text: q2 });
      await rig.waitFor(3, (d) => d.chatId === chatId);
      expect(promptFor(q2).map((m) => m.role)).toEqual(['system', 'user']);
    }
  }, 30_000);
});
