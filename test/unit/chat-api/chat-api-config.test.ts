import { loadChatApiConfig } from '#config/chat-api-config';
import { maskModelOutputFor } from '#config/pipeline-config';
import { ConfigError } from '#core/errors';

const tables = {
  CONVERSATIONS_TABLE: 'conversations',
  ANSWER_CACHE_TABLE: 'answer-cache',
  LEDGER_TABLE: 'ledger',
  AUDIT_TABLE: 'audit',
};

describe('loadChatApiConfig', () => {
  it('defaults: gateway-sized limits, max_tokens bounded by the model, a 25 s model deadline', () => {
    const config = loadChatApiConfig(tables);
    expect(config.limits).toEqual({
      maxQueryChars: 8000,
      maxContextChars: 16_000,
      maxTokens: 512,
      maxBodyBytes: 262_144,
    });
    expect(config.modelTimeoutMs).toBe(25_000);
    expect(config.tables).toEqual({
      conversations: 'conversations',
      answerCache: 'answer-cache',
      ledger: 'ledger',
      audit: 'audit',
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads the overrides', () => {
    const config = loadChatApiConfig({
      ...tables,
      MODEL_MAX_TOKENS: '1024',
      CHAT_MAX_TOKENS: '300',
      CHAT_MAX_QUERY_CHARS: '100',
      CHAT_MAX_CONTEXT_CHARS: '0',
      CHAT_MAX_BODY_BYTES: '4096',
      CHAT_MODEL_TIMEOUT_MS: '5000',
    });
    expect(config.limits).toEqual({ maxQueryChars: 100, maxContextChars: 0, maxTokens: 300, maxBodyBytes: 4096 });
    expect(config.modelTimeoutMs).toBe(5000);
  });

  it.each<[string, Record<string, string>, RegExp]>([
    ['a missing table', { ...tables, LEDGER_TABLE: '' }, /LEDGER_TABLE/],
    [
      'CHAT_MAX_TOKENS above MODEL_MAX_TOKENS',
      { ...tables, CHAT_MAX_TOKENS: '600' },
      /CHAT_MAX_TOKENS: 600 is more than MODEL_MAX_TOKENS \(512\)/,
    ],
    ['a model deadline API Gateway would cut', { ...tables, CHAT_MODEL_TIMEOUT_MS: '28000' }, /CHAT_MODEL_TIMEOUT_MS/],
    ['a query limit above the gateway model', { ...tables, CHAT_MAX_QUERY_CHARS: '9000' }, /CHAT_MAX_QUERY_CHARS/],
    ['a non-numeric body limit', { ...tables, CHAT_MAX_BODY_BYTES: 'lots' }, /CHAT_MAX_BODY_BYTES/],
  ])('refuses %s', (_name, env, message) => {
    expect(() => loadChatApiConfig(env)).toThrow(ConfigError);
    expect(() => loadChatApiConfig(env)).toThrow(message);
  });
});

describe('answer PII masking settings (shared pipeline config)', () => {
  it('masks every chat by default', () => {
    const config = loadChatApiConfig(tables);
    expect(config.maskModelOutput).toEqual({ enabled: true, optOutChats: [] });
    expect(maskModelOutputFor(config, 'api', 'eng')).toBe(true);
    expect(maskModelOutputFor(config, 'feishu', 'oc_1')).toBe(true);
  });

  it('lets the deployment or single chats opt out', () => {
    expect(maskModelOutputFor(loadChatApiConfig({ ...tables, MASK_MODEL_OUTPUT: 'false' }), 'api', 'eng')).toBe(false);
    const config = loadChatApiConfig({ ...tables, MASK_MODEL_OUTPUT_OPT_OUT: ' feishu:oc_1 , api:eng,,' });
    expect(config.maskModelOutput.optOutChats).toEqual(['feishu:oc_1', 'api:eng']);
    expect(maskModelOutputFor(config, 'feishu', 'oc_1')).toBe(false);
    expect(maskModelOutputFor(config, 'api', 'eng')).toBe(false);
    // The platform is part of the reference: the same chat id elsewhere stays masked.
    expect(maskModelOutputFor(config, 'slack', 'oc_1')).toBe(true);
    expect(maskModelOutputFor(config, 'api', 'oc_1')).toBe(true);
  });

  it.each([
    ['MASK_MODEL_OUTPUT', 'no'],
    ['MASK_MODEL_OUTPUT_OPT_OUT', 'oc_1'],
    ['MASK_MODEL_OUTPUT_OPT_OUT', 'teams:oc_1'],
    ['MASK_MODEL_OUTPUT_OPT_OUT', 'feishu:'],
  ])('refuses %s=%j', (name, value) => {
    expect(() => loadChatApiConfig({ ...tables, [name]: value })).toThrow(ConfigError);
  });
});
