import { PlatformApiError } from '#core/errors';
import { retryAfterMs, sendWithRetry } from '#platforms/shared/send-with-retry';
import { startTestServer, type TestResponse, type TestServer } from '../../../helpers/http-test-server';

const NOW = Date.parse('2024-01-01T00:00:00Z');

function scripted(responses: TestResponse[]): (n: number) => TestResponse {
  return (n) => responses[Math.min(n, responses.length - 1)] ?? { statusCode: 500 };
}

describe('sendWithRetry against a real local server', () => {
  let server: TestServer;
  let script: (n: number) => TestResponse;
  const sleeps: number[] = [];
  const deps = {
    fetch,
    now: () => NOW,
    random: () => 0.5,
    sleep: async (ms: number) => {
      sleeps.push(ms);
    },
  };
  const build = () => ({
    url: `${server.url}/api/send`,
    method: 'POST' as const,
    headers: { 'content-type': 'application/json' },
    body: '{"text":"你好"}',
  });

  beforeAll(async () => {
    server = await startTestServer(() => script(server.requests.length - 1));
  });
  afterAll(() => server.close());
  beforeEach(() => {
    server.requests.length = 0;
    sleeps.length = 0;
  });

  it('honours Retry-After seconds on 429, backs off on 5xx, then succeeds', async () => {
    script = scripted([
      { statusCode: 429, headers: { 'retry-after': '2' } },
      { statusCode: 503 },
      { statusCode: 200, body: '{"ok":true}' },
    ]);
    const response = await sendWithRetry(build, deps);
    expect(response.body).toBe('{"ok":true}');
    expect(server.requests).toHaveLength(3);
    expect(server.requests[0]?.body.toString('utf8')).toBe('{"text":"你好"}');
    // 2 s from Retry-After, then full jitter 0.5 * (200 * 2^1).
    expect(sleeps).toEqual([2000, 200]);
  });

  it('honours an HTTP-date Retry-After and caps a huge one', async () => {
    script = scripted([
      { statusCode: 429, headers: { 'retry-after': new Date(NOW + 3000).toUTCString() } },
      { statusCode: 429, headers: { 'retry-after': '86400' } },
      { statusCode: 200, body: 'ok' },
    ]);
    await sendWithRetry(build, deps, { policy: { maxRetryAfterMs: 10_000 } });
    expect(sleeps).toEqual([3000, 10_000]);
  });

  it('never retries a 4xx other than 429', async () => {
    script = scripted([{ statusCode: 400, body: '{"error":"invalid_arguments"}' }]);
    const error = await sendWithRetry(build, deps).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PlatformApiError);
    expect(error).toMatchObject({ status: 400, body: '{"error":"invalid_arguments"}' });
    expect(server.requests).toHaveLength(1);
  });

  it('gives up after maxAttempts with the last status and body', async () => {
    script = scripted([{ statusCode: 502, body: 'bad gateway' }]);
    const error = await sendWithRetry(build, deps, { policy: { maxAttempts: 3 } }).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 502, body: 'bad gateway' });
    expect(server.requests).toHaveLength(3);
    expect(sleeps).toHaveLength(2);
  });

  it('treats an HTTP 200 the caller marks as throttled like a 429', async () => {
    script = scripted([
      { statusCode: 200, headers: { 'retry-after': '1' }, body: '{"ok":false,"error":"ratelimited"}' },
      { statusCode: 200, body: '{"ok":true}' },
    ]);
    const response = await sendWithRetry(build, deps, {
      isThrottled: (r) => r.body.includes('"ratelimited"'),
    });
    expect(response.body).toBe('{"ok":true}');
    expect(sleeps).toEqual([1000]);
  });

  it('retries network failures and reports status 0 when none answers', async () => {
    const dead = `http://127.0.0.1:1/unreachable`;
    const error = await sendWithRetry(() => ({ url: dead, method: 'GET', headers: {} }), deps, {
      policy: { maxAttempts: 2 },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PlatformApiError);
    expect(error).toMatchObject({ status: 0 });
    expect(sleeps).toHaveLength(1);
  });
});

describe('retryAfterMs', () => {
  it.each([
    [null, undefined],
    ['0', 0],
    ['5', 5000],
    ['  7 ', 7000],
    ['999999', 30_000],
    ['soon', undefined],
    ['-1', undefined],
    [new Date(NOW - 5000).toUTCString(), 0],
  ])('%j → %j', (header, expected) => {
    expect(retryAfterMs(header, NOW, 30_000)).toBe(expected);
  });
});
