import type { QueuedEvent } from '#core/queue-message';
import { type Rig, recordOf, startRig, uniqueChat } from './harness';

/**
 * A group's own system prompt (`SYSTEM_PROMPT_OVERRIDES`) through the real worker: it reaches the model as the
 * system message, and the group's FAQ cache entries stay apart from the default prompt's.
 */

let rig: Rig;

beforeAll(async () => {
  rig = await startRig();
}, 30_000);

afterAll(async () => {
  await rig?.stop();
});

const HR_PROMPT = 'You are the HR assistant. Answer HR questions only.';

/** Sends one member message through the webhook and answers it with a worker whose config has `overrides`. */
async function answerWithOverrides(
  chatId: string,
  userId: string,
  text: string,
  overrides: Record<string, string>,
  messageId: string,
) {
  const captured: QueuedEvent[] = [];
  rig.capture = captured;
  try {
    await rig.say('slack', { chatId, userId, text });
  } finally {
    rig.capture = undefined;
  }
  const [event] = captured;
  if (!event) throw new Error('the webhook enqueued nothing');
  const worker = rig.runtime({ config: { ...rig.config, systemPromptOverrides: overrides } });
  return worker(recordOf(event, messageId));
}

it('a group override reaches the model as its system message, and its answers are cached apart', async () => {
  const tag = uniqueChat('prompt');
  const hrChat = `${tag}-hr`;
  const overrides = { [`slack:${hrChat}`]: HR_PROMPT };
  const question = `How many leave days do I have ${tag}?`;

  // A group without an override answers first, with the deployment prompt, and fills the FAQ cache.
  await rig.say('slack', { chatId: `${tag}-plain`, userId: 'alice', text: question });
  await rig.waitFor(1, (d) => d.chatId === `${tag}-plain`);
  await rig.aws.poller?.idle({ timeoutMs: 15_000 });
  expect(rig.prompts.at(-1)?.[0]).toEqual({ role: 'system', content: rig.config.systemPrompt });
  expect(rig.config.systemPrompt).not.toBe(HR_PROMPT);
  const modelCalls = rig.prompts.length;

  // The HR group asks the same question: not served the default prompt's cached answer; its prompt is sent.
  expect((await answerWithOverrides(hrChat, 'bob', question, overrides, 'm-hr-1')).kind).toBe('replied');
  expect(rig.prompts).toHaveLength(modelCalls + 1);
  expect(rig.prompts.at(-1)?.[0]).toEqual({ role: 'system', content: HR_PROMPT });

  // Another HR member gets the HR answer from the group's own cache entry.
  const result = await answerWithOverrides(hrChat, 'carol', question, overrides, 'm-hr-2');
  expect(result).toMatchObject({ kind: 'replied', source: 'cache' });
  expect(rig.prompts).toHaveLength(modelCalls + 1);
}, 30_000);
