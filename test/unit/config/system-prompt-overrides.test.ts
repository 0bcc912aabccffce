import { loadChatApiConfig } from '#config/chat-api-config';
import { DEFAULT_SYSTEM_PROMPT, systemPromptFor } from '#config/pipeline-config';
import { loadWorkerConfig } from '#config/worker-config';
import { ConfigError } from '#core/errors';

/** `SYSTEM_PROMPT_OVERRIDES`: per-chat system prompts, shared by the worker and `/v1/chat` config. */

const tables = {
  CONVERSATIONS_TABLE: 'conversations',
  ANSWER_CACHE_TABLE: 'answer-cache',
  LEDGER_TABLE: 'ledger',
  AUDIT_TABLE: 'audit',
};
const workerEnv = { ...tables, ENABLED_PLATFORMS: 'feishu,slack', EVENTS_TABLE: 'events' };

const HR = 'You are the HR assistant.';
const OPS = 'You are the on-call assistant.';

describe('SYSTEM_PROMPT_OVERRIDES', () => {
  it('is empty by default: every chat gets the deployment prompt', () => {
    const config = loadWorkerConfig(workerEnv);
    expect(config.systemPromptOverrides).toEqual({});
    expect(systemPromptFor(config, 'feishu', 'oc_1')).toBe(DEFAULT_SYSTEM_PROMPT);
  });

  it('gives a listed chat its own prompt, and only on that platform', () => {
    const config = loadWorkerConfig({
      ...workerEnv,
      SYSTEM_PROMPT: 'Default prompt.',
      SYSTEM_PROMPT_OVERRIDES: JSON.stringify({ 'feishu:oc_hr': HR, 'api:ops': OPS }),
    });
    expect(systemPromptFor(config, 'feishu', 'oc_hr')).toBe(HR);
    expect(systemPromptFor(config, 'slack', 'oc_hr')).toBe('Default prompt.');
    expect(systemPromptFor(config, 'feishu', 'oc_other')).toBe('Default prompt.');
    expect(systemPromptFor(config, 'api', 'ops')).toBe(OPS);
  });

  it('is read by /v1/chat too, keyed api:<X-Group-ID>', () => {
    const config = loadChatApiConfig({ ...tables, SYSTEM_PROMPT_OVERRIDES: JSON.stringify({ 'api:ops': OPS }) });
    expect(systemPromptFor(config, 'api', 'ops')).toBe(OPS);
    expect(systemPromptFor(config, 'api', 'eng')).toBe(DEFAULT_SYSTEM_PROMPT);
  });

  it('a chat id that names an Object.prototype member is an ordinary chat', () => {
    const config = loadWorkerConfig(workerEnv);
    expect(systemPromptFor(config, 'slack', 'constructor')).toBe(DEFAULT_SYSTEM_PROMPT);
    expect(systemPromptFor(config, 'slack', '__proto__')).toBe(DEFAULT_SYSTEM_PROMPT);
  });

  it.each<[string, string, RegExp]>([
    ['bad JSON', '{"feishu:oc_hr": "HR"', /SYSTEM_PROMPT_OVERRIDES: is not valid JSON/],
    ['a JSON array', '["feishu:oc_hr"]', /SYSTEM_PROMPT_OVERRIDES/],
    ['a key without a platform', '{"oc_hr": "HR"}', /SYSTEM_PROMPT_OVERRIDES.*platform:chatId/],
    ['an unknown platform', '{"teams:oc_hr": "HR"}', /SYSTEM_PROMPT_OVERRIDES.*platform:chatId/],
    ['an empty prompt', '{"feishu:oc_hr": "  "}', /SYSTEM_PROMPT_OVERRIDES.*non-empty/],
    ['a non-string prompt', '{"feishu:oc_hr": 42}', /SYSTEM_PROMPT_OVERRIDES/],
  ])('refuses %s with a ConfigError naming the variable', (_label, value, message) => {
    const load = () => loadWorkerConfig({ ...workerEnv, SYSTEM_PROMPT_OVERRIDES: value });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(message);
    expect(() => loadChatApiConfig({ ...tables, SYSTEM_PROMPT_OVERRIDES: value })).toThrow(ConfigError);
  });
});
