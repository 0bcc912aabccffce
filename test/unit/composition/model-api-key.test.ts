import { API_KEY_TTL_MS, modelApiKey } from '#composition/model-api-key';
import { ConfigError } from '#core/errors';

/** The OpenAI-compatible server's bearer key from Secrets Manager: read once per TTL, validated, never echoed. */

it('is absent without a secret id', () => {
  expect(modelApiKey(undefined)).toBeUndefined();
});

it('reads the key once and again after the TTL, so a rotated key is picked up', async () => {
  let clock = 1_000;
  const reads: string[] = [];
  let current = 'sk-first';
  const apiKey = modelApiKey('gg/vllm', {
    now: () => clock,
    read: async (id) => {
      reads.push(id);
      return { apiKey: current };
    },
  });
  expect(await apiKey?.read()).toBe('sk-first');
  current = 'sk-rotated';
  clock += API_KEY_TTL_MS - 1;
  expect(await apiKey?.read()).toBe('sk-first');
  clock += 1;
  expect(await apiKey?.read()).toBe('sk-rotated');
  expect(reads).toEqual(['gg/vllm', 'gg/vllm']);
  current = 'sk-rotated-again';
  apiKey?.invalidate(); // the server refused the cached key
  expect(await apiKey?.read()).toBe('sk-rotated-again');
  expect(reads).toHaveLength(3);
});

it.each([[{}], [{ apiKey: '' }], [{ key: 'sk-x' }], ['sk-plain']])(
  'refuses a secret shaped %j without echoing it',
  async (secret) => {
    const apiKey = modelApiKey('gg/vllm', { read: async () => secret });
    const err = await apiKey?.read().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(String((err as Error).message)).not.toMatch(/sk-|gg\/vllm/);
  },
);
