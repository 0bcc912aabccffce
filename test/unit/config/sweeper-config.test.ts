import { loadSweeperConfig } from '#config/sweeper-config';
import { ConfigError } from '#core/errors';

/** The stream sweeper's settings: the worker's variable names, its own lease default. */
describe('loadSweeperConfig', () => {
  const env = { ENABLED_PLATFORMS: 'slack, dingtalk', EVENTS_TABLE: 'events' };

  it('reads the platforms and table, with a 55 s lease and the worker reply limits by default', () => {
    expect(loadSweeperConfig(env)).toEqual({
      enabledPlatforms: ['slack', 'dingtalk'],
      eventsTable: 'events',
      replyHandleOrigins: [],
      leaseMs: 55_000,
      replyLimits: { maxChars: 8_000, maxMessages: 4 },
      region: 'us-east-1',
    });
  });

  it('takes the lease and extra reply origins from the environment', () => {
    const config = loadSweeperConfig({
      ...env,
      CLAIM_LEASE_SECONDS: '120',
      REPLY_HANDLE_ORIGINS: 'http://127.0.0.1:3000, http://localhost:3000',
    });
    expect(config.leaseMs).toBe(120_000);
    expect(config.replyHandleOrigins).toEqual(['http://127.0.0.1:3000', 'http://localhost:3000']);
  });

  it('names every bad variable at once', () => {
    let error: unknown;
    try {
      loadSweeperConfig({ ENABLED_PLATFORMS: 'slack,irc', CLAIM_LEASE_SECONDS: '5' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    expect(problems).toMatch(/ENABLED_PLATFORMS/);
    expect(problems).toMatch(/EVENTS_TABLE/);
    expect(problems).toMatch(/CLAIM_LEASE_SECONDS/);
  });

  it('refuses an empty platform list', () => {
    expect(() => loadSweeperConfig({ ...env, ENABLED_PLATFORMS: ' , ' })).toThrow(ConfigError);
  });
});
