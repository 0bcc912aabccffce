import { createUsagePlanLimiter, restApiHandlerEnv } from '../../../sandbox/rest-api';

describe('sandbox usage plan (token bucket + daily quota per API key)', () => {
  const day = Date.UTC(2026, 10, 25, 12, 0, 0);

  it('admits a burst, throttles beyond it, and refills at the rate', () => {
    let t = day;
    const admit = createUsagePlanLimiter({ rateLimit: 2, burstLimit: 3, quotaPerDay: 100 }, () => t);
    expect([admit('k'), admit('k'), admit('k'), admit('k')]).toEqual(['ok', 'ok', 'ok', 'throttled']);
    t += 499; // 0.998 token
    expect(admit('k')).toBe('throttled');
    t += 2; // 1.002 tokens
    expect(admit('k')).toBe('ok');
    expect(admit('k')).toBe('throttled');
    t += 10_000; // refills to the burst, not beyond
    expect([admit('k'), admit('k'), admit('k'), admit('k')]).toEqual(['ok', 'ok', 'ok', 'throttled']);
  });

  it('keeps keys apart', () => {
    const admit = createUsagePlanLimiter({ rateLimit: 1, burstLimit: 1, quotaPerDay: 100 }, () => day);
    expect([admit('a'), admit('a'), admit('b')]).toEqual(['ok', 'throttled', 'ok']);
  });

  it('refuses over the daily quota until 00:00 UTC; throttled calls do not use quota', () => {
    let t = day;
    const admit = createUsagePlanLimiter({ rateLimit: 1, burstLimit: 1, quotaPerDay: 2 }, () => t);
    expect([admit('k'), admit('k')]).toEqual(['ok', 'throttled']);
    t += 1000;
    expect(admit('k')).toBe('ok');
    t += 1000;
    expect([admit('k'), admit('other')]).toEqual(['quota_exceeded', 'ok']);
    t = Date.UTC(2026, 10, 25, 23, 59, 59);
    expect(admit('k')).toBe('quota_exceeded');
    t = Date.UTC(2026, 10, 26, 0, 0, 0);
    expect(admit('k')).toBe('ok');
  });
});

describe('restApiHandlerEnv', () => {
  it('fills the sandbox JWT defaults', () => {
    expect(restApiHandlerEnv({})).toEqual({
      JWT_ISSUER: 'groupgate-sandbox',
      JWT_AUDIENCE: 'groupgate',
      JWT_SECRET: 'sandbox-jwt-secret-change-me-0123456789',
    });
  });
  it('keeps what the caller set, and a JWKS URL replaces the secret', () => {
    expect(restApiHandlerEnv({ JWT_ISSUER: 'i', JWT_AUDIENCE: 'a', JWT_JWKS_URL: 'http://127.0.0.1:1/jwks' })).toEqual({
      JWT_ISSUER: 'i',
      JWT_AUDIENCE: 'a',
      JWT_JWKS_URL: 'http://127.0.0.1:1/jwks',
    });
  });
});
