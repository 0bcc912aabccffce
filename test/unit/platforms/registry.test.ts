import { loadWorkerConfig } from '#config/worker-config';
import { ConfigError } from '#core/errors';
import { createEnabledPlatforms, createPlatformResolver } from '#platforms/registry';
import { TRUNCATION_NOTE } from '#platforms/shared/index';
import { credentialEnv, SANDBOX_CREDENTIALS } from '../../../sandbox/defaults';

const env = credentialEnv(SANDBOX_CREDENTIALS);

describe('platform resolver', () => {
  it('returns undefined for unknown, disabled and prototype-named platforms', async () => {
    const resolve = createPlatformResolver(['slack'], env);
    expect(await resolve('telegram')).toBeUndefined();
    expect(await resolve('feishu')).toBeUndefined();
    expect(await resolve('__proto__')).toBeUndefined();
    expect((await resolve('slack'))?.name).toBe('slack');
  });

  it('fails only the platform whose credentials are bad, and retries after the failure', async () => {
    const broken = { ...env, WECOM_ENCODING_AES_KEY: 'REPLACE_ME' };
    const resolve = createPlatformResolver(['slack', 'wecom'], broken);
    await expect(resolve('wecom')).rejects.toBeInstanceOf(ConfigError);
    expect((await resolve('slack'))?.name).toBe('slack');
    broken.WECOM_ENCODING_AES_KEY = SANDBOX_CREDENTIALS.wecom.encodingAesKey;
    expect((await resolve('wecom'))?.name).toBe('wecom');
  });

  it('reuses an adapter within the TTL and rebuilds it after, so rotated secrets are picked up', async () => {
    let now = 0;
    const resolve = createPlatformResolver(['slack'], env, { ttlMs: 1_000, now: () => now });
    const first = await resolve('slack');
    expect(await resolve('slack')).toBe(first);
    now = 1_001;
    const second = await resolve('slack');
    expect(second).not.toBe(first);
    expect(second?.name).toBe('slack');
  });
});

describe('reply limits from the worker config', () => {
  const workerEnv = {
    ...env,
    ENABLED_PLATFORMS: 'slack',
    EVENTS_TABLE: 'events',
    CONVERSATIONS_TABLE: 'conversations',
    ANSWER_CACHE_TABLE: 'answer-cache',
    LEDGER_TABLE: 'ledger',
    AUDIT_TABLE: 'audit',
  };

  it('defaults to 8000 characters and 4 messages', () => {
    expect(loadWorkerConfig(workerEnv).replyLimits).toEqual({ maxChars: 8000, maxMessages: 4 });
  });

  it.each([
    ['0', '4'],
    ['99', '4'],
    ['abc', '4'],
    ['8000', '0'],
    ['8000', '21'],
    ['100001', '4'],
  ])('refuses MAX_REPLY_CHARS=%s MAX_REPLY_MESSAGES=%s', (chars, messages) => {
    expect(() => loadWorkerConfig({ ...workerEnv, MAX_REPLY_CHARS: chars, MAX_REPLY_MESSAGES: messages })).toThrow(
      ConfigError,
    );
  });

  it('threads MAX_REPLY_CHARS / MAX_REPLY_MESSAGES through createEnabledPlatforms into the adapter', async () => {
    const config = loadWorkerConfig({ ...workerEnv, MAX_REPLY_CHARS: '300', MAX_REPLY_MESSAGES: '2' });
    expect(config.replyLimits).toEqual({ maxChars: 300, maxMessages: 2 });
    const bodies: string[] = [];
    const fakeFetch = (async (_url: string | URL | Request, init?: RequestInit) => {
      bodies.push(String(init?.body));
      return new Response(JSON.stringify({ ok: true, ts: '1.1' }), { status: 200 });
    }) as typeof fetch;
    const platforms = await createEnabledPlatforms(config.enabledPlatforms, workerEnv, {
      replyLimits: config.replyLimits,
      deps: { fetch: fakeFetch, sleep: async () => {} },
    });
    await platforms.slack?.send({
      handle: { platform: 'slack', channel: 'C1' },
      text: '长'.repeat(5_000),
      format: 'text',
      idempotencyKey: 'k',
    });
    expect(bodies).toHaveLength(1);
    const text = (JSON.parse(bodies[0] ?? '{}') as { text: string }).text;
    expect([...text].length).toBeLessThanOrEqual(300);
    expect(text.endsWith(TRUNCATION_NOTE)).toBe(true);
  });
});
