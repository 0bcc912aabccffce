import { loadChatApiConfig } from '#config/chat-api-config';
import { FALLBACK_ENDPOINT_NAME } from '#config/pipeline-config';
import { loadWorkerConfig } from '#config/worker-config';
import { ConfigError } from '#core/errors';
import { TEST_TABLES_ENV } from '../../helpers/factories';

/** The fallback model's variables, read by the worker and `/v1/chat` through the shared pipeline schema. */

const workerEnv = { ...TEST_TABLES_ENV, ENABLED_PLATFORMS: 'slack' };
const URL_ENV = { FALLBACK_MODEL_ENDPOINT_URL: 'http://127.0.0.1:18621' };

describe('fallback model configuration', () => {
  it('is off when no fallback variable is set', () => {
    expect(loadWorkerConfig(workerEnv).model.fallback).toBeUndefined();
  });

  it('takes the documented defaults when only the URL is set', () => {
    expect(loadWorkerConfig({ ...workerEnv, ...URL_ENV }).model.fallback).toEqual({
      endpointUrl: 'http://127.0.0.1:18621',
      endpointName: FALLBACK_ENDPOINT_NAME,
      modelId: 'fallback-cpu',
      memoryMb: 3008,
      timeoutMs: 20_000,
    });
  });

  it('reads every variable, for the worker and /v1/chat alike', () => {
    const env = {
      FALLBACK_MODEL_ENDPOINT_URL: 'https://abc123.lambda-url.eu-west-1.on.aws/',
      FALLBACK_MODEL_ID: 'qwen-0.5b-q4',
      FALLBACK_MODEL_MEMORY_MB: '10240',
      FALLBACK_TIMEOUT_MS: '8000',
    };
    const expected = {
      endpointUrl: 'https://abc123.lambda-url.eu-west-1.on.aws/',
      endpointName: 'groupgate-fallback',
      modelId: 'qwen-0.5b-q4',
      memoryMb: 10_240,
      timeoutMs: 8000,
    };
    expect(loadWorkerConfig({ ...workerEnv, ...env }).model.fallback).toEqual(expected);
    const { EVENTS_TABLE: _workerOnly, ...tables } = TEST_TABLES_ENV;
    expect(loadChatApiConfig({ ...tables, ...env }).model.fallback).toEqual(expected);
  });

  it.each<[string, Record<string, string>, RegExp]>([
    ['a URL that is not one', { FALLBACK_MODEL_ENDPOINT_URL: 'not a url' }, /FALLBACK_MODEL_ENDPOINT_URL/],
    ['an empty URL (a placeholder)', { FALLBACK_MODEL_ENDPOINT_URL: '' }, /FALLBACK_MODEL_ENDPOINT_URL/],
    ['a non-HTTP URL', { FALLBACK_MODEL_ENDPOINT_URL: 'ftp://host/model' }, /FALLBACK_MODEL_ENDPOINT_URL/],
    ['an empty model id', { ...URL_ENV, FALLBACK_MODEL_ID: '' }, /FALLBACK_MODEL_ID/],
    ['memory below Lambda’s 128 MB', { ...URL_ENV, FALLBACK_MODEL_MEMORY_MB: '64' }, /FALLBACK_MODEL_MEMORY_MB/],
    ['memory above Lambda’s 10,240 MB', { ...URL_ENV, FALLBACK_MODEL_MEMORY_MB: '10241' }, /FALLBACK_MODEL_MEMORY_MB/],
    ['fractional memory', { ...URL_ENV, FALLBACK_MODEL_MEMORY_MB: '3008.5' }, /FALLBACK_MODEL_MEMORY_MB/],
    ['memory that is not a number', { ...URL_ENV, FALLBACK_MODEL_MEMORY_MB: '3GB' }, /FALLBACK_MODEL_MEMORY_MB/],
    ['a timeout below a second', { ...URL_ENV, FALLBACK_TIMEOUT_MS: '999' }, /FALLBACK_TIMEOUT_MS/],
    ['a timeout past Lambda’s 15 minutes', { ...URL_ENV, FALLBACK_TIMEOUT_MS: '900001' }, /FALLBACK_TIMEOUT_MS/],
    ['an empty timeout', { ...URL_ENV, FALLBACK_TIMEOUT_MS: '' }, /FALLBACK_TIMEOUT_MS/],
    [
      'a setting without the URL',
      { FALLBACK_MODEL_ID: 'qwen-0.5b', FALLBACK_TIMEOUT_MS: '5000' },
      /FALLBACK_MODEL_ID: set without FALLBACK_MODEL_ENDPOINT_URL[\s\S]*FALLBACK_TIMEOUT_MS: set without/,
    ],
    [
      'the primary’s model id',
      { ...URL_ENV, MODEL_ID: 'shared-id', FALLBACK_MODEL_ID: 'shared-id' },
      /FALLBACK_MODEL_ID: "shared-id" is also MODEL_ID/,
    ],
  ])('refuses %s with a ConfigError naming the variable', (_label, env, message) => {
    const load = () => loadWorkerConfig({ ...workerEnv, ...env });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(message);
  });

  it('reports every malformed fallback variable at once', () => {
    const load = () =>
      loadWorkerConfig({
        ...workerEnv,
        ...URL_ENV,
        FALLBACK_MODEL_MEMORY_MB: '0',
        FALLBACK_TIMEOUT_MS: 'soon',
      });
    expect(load).toThrow(/FALLBACK_MODEL_MEMORY_MB[\s\S]*FALLBACK_TIMEOUT_MS/);
  });
});

describe('OpenAI-compatible model servers', () => {
  it('reads MODEL_API=openai with the served model name and the key secret, the name defaulting to MODEL_ID', () => {
    const base = { ...workerEnv, MODEL_ENDPOINT_URL: 'http://vllm.internal:8000/v1', MODEL_API: 'openai' };
    expect(loadWorkerConfig(base).model).toMatchObject({ openAi: { model: 'private-llm-int8' } });
    expect(loadWorkerConfig(base).model.openAi?.apiKeySecretId).toBeUndefined();
    expect(
      loadWorkerConfig({ ...base, MODEL_OPENAI_MODEL: 'Qwen/Qwen2.5-7B-Instruct', MODEL_API_KEY_SECRET_ID: 'gg/vllm' })
        .model.openAi,
    ).toEqual({ model: 'Qwen/Qwen2.5-7B-Instruct', apiKeySecretId: 'gg/vllm' });
    expect(loadWorkerConfig(workerEnv).model.openAi).toBeUndefined();
  });

  it('refuses MODEL_API=openai without a URL, an unknown API, and OpenAI settings that nothing would use', () => {
    expect(() => loadWorkerConfig({ ...workerEnv, MODEL_API: 'openai' })).toThrow(
      /MODEL_ENDPOINT_URL: required with MODEL_API=openai/,
    );
    expect(() => loadWorkerConfig({ ...workerEnv, MODEL_API: 'bedrock' })).toThrow(ConfigError);
    expect(() => loadWorkerConfig({ ...workerEnv, MODEL_OPENAI_MODEL: 'x', MODEL_API_KEY_SECRET_ID: 'k' })).toThrow(
      /MODEL_OPENAI_MODEL: set without MODEL_API=openai[\s\S]*MODEL_API_KEY_SECRET_ID: set without MODEL_API=openai/,
    );
  });

  it('lets the fallback speak the OpenAI-compatible API too', () => {
    const fallback = loadWorkerConfig({
      ...workerEnv,
      ...URL_ENV,
      FALLBACK_MODEL_API: 'openai',
      FALLBACK_MODEL_OPENAI_MODEL: 'qwen2.5:0.5b',
    }).model.fallback;
    expect(fallback).toMatchObject({ endpointUrl: 'http://127.0.0.1:18621', openAi: { model: 'qwen2.5:0.5b' } });
    expect(() => loadWorkerConfig({ ...workerEnv, FALLBACK_MODEL_API: 'openai' })).toThrow(
      /FALLBACK_MODEL_API: set without FALLBACK_MODEL_ENDPOINT_URL/,
    );
    expect(() => loadWorkerConfig({ ...workerEnv, ...URL_ENV, FALLBACK_MODEL_OPENAI_MODEL: 'x' })).toThrow(
      /FALLBACK_MODEL_OPENAI_MODEL: set without FALLBACK_MODEL_API=openai/,
    );
    expect(() =>
      loadWorkerConfig({ ...workerEnv, ...URL_ENV, FALLBACK_MODEL_API: 'openai', FALLBACK_MODEL_MEMORY_MB: '4096' }),
    ).toThrow(/FALLBACK_MODEL_MEMORY_MB: prices a fallback function/);
  });
});

describe('MODEL_BREAKER_COOL_DOWN_MS', () => {
  it('defaults to 30 s and accepts 1 s to 10 min', () => {
    expect(loadWorkerConfig(workerEnv).model.breakerCoolDownMs).toBe(30_000);
    expect(loadWorkerConfig({ ...workerEnv, MODEL_BREAKER_COOL_DOWN_MS: '5000' }).model.breakerCoolDownMs).toBe(5_000);
  });

  it.each(['0', '999', '600001', 'soon'])('refuses %s by name', (value) => {
    expect(() => loadWorkerConfig({ ...workerEnv, MODEL_BREAKER_COOL_DOWN_MS: value })).toThrow(
      /MODEL_BREAKER_COOL_DOWN_MS/,
    );
  });
});
