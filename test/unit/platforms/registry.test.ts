import { ConfigError } from '../../../functions/core/errors';
import { createPlatformResolver } from '../../../functions/platforms/registry';
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
