import { createChatApi } from '#composition/chat-api-runtime';
import { composePipeline } from '#composition/pipeline-composition';
import type { ChatApiConfig } from '#config/chat-api-config';
import { createChatApiHandler } from '#handlers/chat-api';
import type { AwsClients } from '#shared/aws-clients';
import { logger } from '#shared/powertools';
import { chatApiConfig, chatApiEvent, fakeModel, modelReply } from '../../helpers/factories';

/**
 * Member profiles on `/v1/chat` (docs/PROFILES.md): the group `api:<X-Group-ID>` gets its default profile, the member
 * (X-User-ID) can use the profile commands, and a profile that cannot be read shapes nothing but loses no question.
 */
const NOW = Date.UTC(2026, 11, 5, 9, 0, 0);
const context = { getRemainingTimeInMillis: () => 29_000 };

beforeEach(() => {
  for (const level of ['info', 'warn', 'error'] as const) jest.spyOn(logger, level).mockImplementation(() => undefined);
});
afterEach(() => jest.restoreAllMocks());

/** The pipeline on a DynamoDB stand-in (`send` decides each answer) and a model that records its prompts. */
type Command = { constructor: { name: string }; input: { Key?: { pk?: string } } };

function api(config: ChatApiConfig, send: (command: Command) => Promise<unknown> = async () => ({})) {
  const commands: string[] = [];
  const doc = {
    send: jest.fn(async (command: Command) => {
      commands.push(command.constructor.name);
      return send(command);
    }),
  };
  const model = fakeModel({ respond: async () => modelReply('ok') });
  const chat = createChatApi({
    config,
    pipeline: composePipeline({ config, clients: { doc } as unknown as AwsClients, model, now: () => NOW }),
    now: () => NOW,
  });
  const post = async (query: string, groupId = 'eng') => {
    const result = await createChatApiHandler(
      async () => chat,
      () => NOW,
    )(chatApiEvent({ query }, { groupId }), context);
    return { statusCode: result.statusCode, json: JSON.parse(result.body) as { reply?: string } };
  };
  return { post, model, commands };
}

it('the group default of api:<X-Group-ID> shapes its answers, and only its own', async () => {
  const config = chatApiConfig({ PROFILE_GROUP_DEFAULTS: JSON.stringify({ 'api:eng': { language: 'ja' } }) });
  const { post, model } = api(config);
  expect((await post('What is GroupGate?')).statusCode).toBe(200);
  expect(model.calls[0]?.request.messages[0]?.content).toContain('Answer in Japanese');
  await post('What is GroupGate?', 'ops');
  expect(model.calls[1]?.request.messages[0]).toEqual({ role: 'system', content: config.systemPrompt });
});

it('profile commands answer the calling member without a model call', async () => {
  const { post, model, commands } = api(chatApiConfig({}));
  expect((await post('/profile set length short')).json.reply).toMatch(/^Saved: length = short\./);
  expect(commands).toContain('TransactWriteCommand');
  expect((await post('/profile set shoe-size 42')).json.reply).toMatch(/^Unknown field "shoe-size"/);
  expect(model.calls).toEqual([]);
});

it('a member profile that cannot be read leaves the group default, and the question is still answered', async () => {
  const config = chatApiConfig({ PROFILE_GROUP_DEFAULTS: JSON.stringify({ 'api:eng': { language: 'ja' } }) });
  const { post, model } = api(config, async (command) => {
    if (command.input.Key?.pk?.startsWith('profile#')) {
      throw Object.assign(new Error('throttled'), { name: 'ProvisionedThroughputExceededException' });
    }
    return {};
  });
  const res = await post('What is the VPN address?');
  expect(res).toMatchObject({ statusCode: 200, json: { reply: 'ok' } });
  expect(model.calls).toHaveLength(1);
  // The group's default still applies; only the member's own values are missing.
  expect(model.calls[0]?.request.messages[0]?.content).toContain('Answer in Japanese');
  expect(logger.warn).toHaveBeenCalledWith('member profile not read; answering without it', expect.anything());
});
