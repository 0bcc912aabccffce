import { MAX_SKILL_RESPONSE_BYTES, SKILL_PROTOCOL_VERSION, type SkillRequest } from '#core/skills/remote-protocol';
import { SkillInvokeError } from '#core/skills/remote-skill';
import { createHttpSkillInvoker } from '#skills/http-invoker';
import { startTestServer, type TestResponse, type TestServer } from '../../helpers/http-test-server';

/** The HTTP invoker (sandbox and tests only) with real `fetch` against a real node:http server. */

const V = SKILL_PROTOCOL_VERSION;

function request(skill = 'glossary'): SkillRequest {
  return { version: V, skill, requestId: 'req-1', text: 'what is ARR?', deadlineMs: 3000 };
}

/** What the server answers next, by path. */
let answer: (path: string) => TestResponse | Promise<TestResponse>;
let server: TestServer;
const released: (() => void)[] = [];

beforeAll(async () => {
  server = await startTestServer((req) => answer(req.path));
});

afterAll(async () => {
  for (const release of released.splice(0)) release();
  await server.close();
});

const invoker = () => createHttpSkillInvoker({ urlOf: (skill) => `${server.url}/skills/${skill}` });

async function failure(promise: Promise<unknown>): Promise<SkillInvokeError> {
  const error = await promise.then(
    (value) => new Error(`resolved with ${JSON.stringify(value)}`),
    (e: unknown) => e,
  );
  if (!(error instanceof SkillInvokeError)) throw error;
  return error;
}

describe('HTTP skill invoker', () => {
  it('POSTs the request as JSON to the skill URL and resolves with the JSON answer', async () => {
    answer = () => ({ statusCode: 200, body: JSON.stringify({ version: V, action: 'decline' }) });
    const before = server.requests.length;
    await expect(invoker()(request(), 3000)).resolves.toEqual({ version: V, action: 'decline' });
    const [sent] = server.requests.slice(before);
    expect(sent).toMatchObject({ method: 'POST', path: '/skills/glossary' });
    expect(sent?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(sent?.body.toString('utf8') ?? '')).toEqual(request());
  });

  it.each([
    [404, 'not_found'],
    [429, 'throttled'],
    [401, 'access_denied'],
    [403, 'access_denied'],
    [500, 'function_error'],
    [502, 'function_error'],
    [503, 'function_error'],
    [400, 'transport'],
    [302, 'transport'],
  ])('HTTP %d: %s', async (statusCode, reason) => {
    answer = () => ({
      statusCode,
      headers: statusCode === 302 ? { location: 'https://elsewhere.example/' } : ({} as Record<string, string>),
      body: JSON.stringify({ version: V, action: 'answer', reply: 'from an error page' }),
    });
    const error = await failure(invoker()(request(), 3000));
    expect(error.reason).toBe(reason);
  });

  it('a skill slower than the timeout: timeout', async () => {
    answer = () => new Promise((resolve) => released.push(() => resolve({ statusCode: 200, body: '{"version":"x"}' })));
    const started = Date.now();
    const error = await failure(invoker()(request(), 200));
    expect(error.reason).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('a body that stops arriving: timeout', async () => {
    const head = new TextEncoder().encode('{"version":');
    const stall = 1000;
    answer = () => ({ statusCode: 200, parts: [head], partDelayMs: stall });
    const started = Date.now();
    const error = await failure(invoker()(request(), 300));
    expect(error.reason).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(stall);
    // Let the server finish its stalled answer, so no timer outlives the suite.
    await new Promise((resolve) => setTimeout(resolve, stall - (Date.now() - started) + 50));
  });

  it('a body over 64 KiB with its length declared: too_large', async () => {
    answer = () => ({ statusCode: 200, body: JSON.stringify({ reply: 'x'.repeat(MAX_SKILL_RESPONSE_BYTES) }) });
    expect((await failure(invoker()(request(), 3000))).reason).toBe('too_large');
  });

  it('a chunked body that grows past 64 KiB: too_large, the rest unread', async () => {
    const chunk = new Uint8Array(16 * 1024).fill(0x20);
    answer = () => ({ statusCode: 200, parts: Array.from({ length: 8 }, () => chunk) });
    const error = await failure(invoker()(request(), 3000));
    expect(error.reason).toBe('too_large');
    expect(error.message).toContain(`more than ${MAX_SKILL_RESPONSE_BYTES}`);
  });

  it('a body of exactly 64 KiB is read', async () => {
    const json = JSON.stringify({ pad: '' });
    const body = JSON.stringify({ pad: 'x'.repeat(MAX_SKILL_RESPONSE_BYTES - json.length) });
    expect(body.length).toBe(MAX_SKILL_RESPONSE_BYTES);
    answer = () => ({ statusCode: 200, body });
    await expect(invoker()(request(), 3000)).resolves.toEqual(JSON.parse(body));
  });

  it.each([
    ['HTML', '<html>oops</html>'],
    ['truncated JSON', '{"version":"groupgate.skill.v1","action":'],
    ['empty', ''],
  ])('a body that is %s: invalid_json', async (_case, body) => {
    answer = () => ({ statusCode: 200, body });
    expect((await failure(invoker()(request(), 3000))).reason).toBe('invalid_json');
  });

  it('a port nobody listens on: transport', async () => {
    const closed = await startTestServer(() => ({ statusCode: 200 }));
    await closed.close();
    const nowhere = createHttpSkillInvoker({ urlOf: () => `${closed.url}/skill` });
    expect((await failure(nowhere(request(), 3000))).reason).toBe('transport');
  });

  it('a skill without a URL: not_found, without a call', async () => {
    const before = server.requests.length;
    const none = createHttpSkillInvoker({ urlOf: () => undefined });
    expect((await failure(none(request(), 3000))).reason).toBe('not_found');
    expect(server.requests.length).toBe(before);
  });
});
