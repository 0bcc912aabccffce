import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createModelClient, type ModelCompositionOptions } from '#composition/model-composition';
import { ModelError } from '#core/errors';
import type { ChatRequest } from '#model/chat-completions';
import { METRIC, metrics } from '#shared/metrics';
import { pipelineConfig } from '../../helpers/factories';
import { startTestServer, type TestResponse, type TestServer } from '../../helpers/http-test-server';

/**
 * `createModelClient` as the worker and `/v1/chat` build it from their config: the real SageMaker runtime client
 * against two local servers speaking its contract, the primary endpoint and the fallback model
 * (`FALLBACK_MODEL_ENDPOINT_URL`). Back-off sleeps are skipped; deadlines are real.
 */

type Behaviour = () => TestResponse | Promise<TestResponse>;

const REQUEST: ChatRequest = {
  messages: [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: '报销流程是什么？' },
  ],
  maxTokens: 64,
  temperature: 0.3,
};

const answer = (content: string): TestResponse => ({
  statusCode: 200,
  body: JSON.stringify({
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 12, completion_tokens: 4, total_tokens: 16 },
  }),
});
/** A SageMaker runtime error as the service sends it: status and `x-amzn-errortype`. */
const failure = (statusCode: number, errorType: string): TestResponse => ({
  statusCode,
  headers: { 'x-amzn-errortype': errorType },
  body: JSON.stringify({ message: `${errorType} from the test server` }),
});
/** Never answers: the caller's deadline has to end the call. */
const hang: Behaviour = () => new Promise<TestResponse>(() => undefined);

let primary: TestServer;
let fallback: TestServer;
let primaryBehaviour: Behaviour;
let fallbackBehaviour: Behaviour;
const savedEnv = { ...process.env };
let counted: string[];

beforeAll(async () => {
  // Static credentials, so the SDK never looks for an instance role.
  process.env.AWS_ACCESS_KEY_ID = 'test';
  process.env.AWS_SECRET_ACCESS_KEY = 'test';
  primary = await startTestServer(() => primaryBehaviour());
  fallback = await startTestServer(() => fallbackBehaviour());
});

afterAll(async () => {
  process.env = savedEnv;
  await Promise.all([primary.close(), fallback.close()]);
});

beforeEach(() => {
  primary.requests.length = 0;
  fallback.requests.length = 0;
  primaryBehaviour = () => answer('primary answer');
  fallbackBehaviour = () => answer('备用模型的回答');
  counted = [];
  jest.spyOn(metrics, 'addMetric').mockImplementation((name) => {
    counted.push(name);
    return metrics;
  });
});

afterEach(() => jest.restoreAllMocks());

const noSleep: ModelCompositionOptions = { sleep: async () => undefined };

function model(env: Record<string, string> = {}, options: ModelCompositionOptions = {}) {
  const config = pipelineConfig({
    MODEL_ENDPOINT_URL: primary.url,
    MODEL_ID: 'private-llm-int8',
    FALLBACK_MODEL_ENDPOINT_URL: fallback.url,
    FALLBACK_TIMEOUT_MS: '1000',
    ...env,
  });
  return createModelClient(config, { ...noSleep, ...options });
}

const farDeadline = () => Date.now() + 20_000;
const reasonOf = async (call: Promise<unknown>): Promise<ModelError['reason']> => {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ModelError)) throw new Error(`expected a ModelError, got ${String(err)}`);
  return err.reason;
};
const primaryUnavailable = () => counted.filter((name) => name === METRIC.primaryUnavailable).length;

describe('createModelClient with a configured fallback model', () => {
  it.each<[ModelError['reason'], TestResponse]>([
    ['server_error', failure(500, 'InternalFailure')],
    ['server_error', failure(503, 'ServiceUnavailable')],
    ['throttled', failure(429, 'ThrottlingException')],
  ])(
    'the primary failing with %s (%#) hands the same request to the fallback, which answers as itself',
    async (_reason, response) => {
      primaryBehaviour = () => response;
      const result = await model().invoke(REQUEST, { deadline: farDeadline() });
      expect(result).toMatchObject({
        content: '备用模型的回答',
        modelId: 'fallback-cpu',
        billing: { kind: 'lambda', memoryMb: 3008, architecture: 'arm64' },
      });
      expect(primary.requests).toHaveLength(3);
      expect(fallback.requests.map((r) => r.path)).toEqual(['/endpoints/groupgate-fallback/invocations']);
      expect(JSON.parse(fallback.requests[0]?.body.toString('utf8') ?? '{}')).toEqual(
        JSON.parse(primary.requests[0]?.body.toString('utf8') ?? '{}'),
      );
      expect(primaryUnavailable()).toBe(1);
    },
  );

  it("a primary that times out leaves the fallback its reserve (FALLBACK_TIMEOUT_MS) of the caller's deadline", async () => {
    primaryBehaviour = hang;
    // 1,000 ms reserved for the fallback: the primary gets the first 600 ms.
    const result = await model().invoke(REQUEST, { deadline: Date.now() + 1_600 });
    expect(result.modelId).toBe('fallback-cpu');
    expect(primary.requests).toHaveLength(1);
    expect(fallback.requests).toHaveLength(1);
    expect(primaryUnavailable()).toBe(1);
  });

  it('once the primary circuit is open, calls go to the fallback at once, without asking the primary', async () => {
    primaryBehaviour = () => failure(500, 'InternalFailure');
    const client = model();
    // The breaker opens after 5 failed calls (3 attempts each).
    for (let i = 0; i < 5; i++) {
      expect((await client.invoke(REQUEST, { deadline: farDeadline() })).modelId).toBe('fallback-cpu');
    }
    expect(client.circuitState()).toBe('open');
    expect(primary.requests).toHaveLength(15);

    const result = await client.invoke(REQUEST, { deadline: farDeadline() });
    expect(result).toMatchObject({ modelId: 'fallback-cpu', content: '备用模型的回答' });
    expect(primary.requests).toHaveLength(15);
    expect(fallback.requests).toHaveLength(6);
    expect(primaryUnavailable()).toBe(6);
  });

  it('probes the primary again after MODEL_BREAKER_COOL_DOWN_MS, and a recovered primary answers', async () => {
    let clock = Date.now();
    const client = model({ MODEL_BREAKER_COOL_DOWN_MS: '5000' }, { now: () => clock });
    primaryBehaviour = () => failure(500, 'InternalFailure');
    for (let i = 0; i < 5; i++) await client.invoke(REQUEST, { deadline: clock + 20_000 });
    expect(client.circuitState()).toBe('open');
    primaryBehaviour = () => answer('primary is back');
    clock += 4_999;
    expect((await client.invoke(REQUEST, { deadline: clock + 20_000 })).modelId).toBe('fallback-cpu');
    clock += 1;
    const probe = await client.invoke(REQUEST, { deadline: clock + 20_000 });
    expect(probe).toMatchObject({ modelId: 'private-llm-int8', content: 'primary is back' });
    expect(client.circuitState()).toBe('closed');
  });

  it('a request the primary rejected (client_error) is not sent to the fallback', async () => {
    primaryBehaviour = () => failure(400, 'ValidationError');
    expect(await reasonOf(model().invoke(REQUEST, { deadline: farDeadline() }))).toBe('client_error');
    expect(fallback.requests).toHaveLength(0);
    expect(primaryUnavailable()).toBe(0);
  });

  it('a malformed primary answer (bad_response) is surfaced, not hidden by the fallback', async () => {
    primaryBehaviour = () => ({ statusCode: 200, body: '{"not":"a completion"}' });
    expect(await reasonOf(model().invoke(REQUEST, { deadline: farDeadline() }))).toBe('bad_response');
    expect(fallback.requests).toHaveLength(0);
  });

  it("when the fallback fails too, the primary's error is thrown", async () => {
    primaryBehaviour = () => failure(503, 'ServiceUnavailable');
    fallbackBehaviour = () => failure(400, 'ValidationError');
    expect(await reasonOf(model().invoke(REQUEST, { deadline: farDeadline() }))).toBe('server_error');
    expect(fallback.requests).toHaveLength(1);
  });

  it("the fallback gets its own budget, not the rest of a long caller deadline: a hung fallback ends with the primary's error", async () => {
    primaryBehaviour = () => failure(500, 'InternalFailure');
    fallbackBehaviour = hang;
    // Without the 1,000 ms budget this call would wait until the test's own timeout.
    expect(await reasonOf(model().invoke(REQUEST, { deadline: Date.now() + 60_000 }))).toBe('server_error');
    expect(fallback.requests).toHaveLength(1);
  });

  it('keeps at most half the time the caller has left for the fallback, so a short deadline still asks the primary first', async () => {
    // FALLBACK_TIMEOUT_MS is 20 s, but the caller (a worker near its timeout, /v1/chat) has 1.5 s: the primary gets
    // the first 0.75 s, the fallback the rest.
    primaryBehaviour = hang;
    const client = model({ FALLBACK_TIMEOUT_MS: '20000' });
    const result = await client.invoke(REQUEST, { deadline: Date.now() + 1_500 });
    expect(result.modelId).toBe('fallback-cpu');
    expect(primary.requests).toHaveLength(1);
    expect(fallback.requests).toHaveLength(1);
    expect(primaryUnavailable()).toBe(1);
  });

  it('a primary answering within its half of a short deadline is the answer (control)', async () => {
    const client = model({ FALLBACK_TIMEOUT_MS: '20000' });
    const result = await client.invoke(REQUEST, { deadline: Date.now() + 1_500 });
    expect(result.modelId).toBe('private-llm-int8');
    expect(fallback.requests).toHaveLength(0);
  });

  it('the primary answering is the primary’s result, and the fallback is never asked (control)', async () => {
    const result = await model().invoke(REQUEST, { deadline: farDeadline() });
    expect(result).toMatchObject({
      content: 'primary answer',
      modelId: 'private-llm-int8',
      billing: { kind: 'sagemaker', instanceType: 'ml.g4dn.xlarge' },
    });
    expect(fallback.requests).toHaveLength(0);
    expect(primaryUnavailable()).toBe(0);
  });
});

describe('createModelClient without a fallback model', () => {
  it('is the primary alone: its failure is thrown and nothing else is asked or counted', async () => {
    primaryBehaviour = () => failure(500, 'InternalFailure');
    const client = createModelClient(pipelineConfig({ MODEL_ENDPOINT_URL: primary.url }), noSleep);
    expect(await reasonOf(client.invoke(REQUEST, { deadline: farDeadline() }))).toBe('server_error');
    expect(primary.requests).toHaveLength(3);
    expect(fallback.requests).toHaveLength(0);
    expect(primaryUnavailable()).toBe(0);
  });
});

describe('createModelClient with OpenAI-compatible servers (MODEL_API / FALLBACK_MODEL_API = openai)', () => {
  let secrets: TestServer;
  beforeAll(async () => {
    // Secrets Manager's GetSecretValue, as the hand-signed client calls it.
    secrets = await startTestServer(() => ({
      statusCode: 200,
      body: JSON.stringify({ SecretString: JSON.stringify({ apiKey: 'sk-composition-test' }) }),
    }));
    process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = secrets.url;
  });
  afterAll(() => secrets.close());

  it('asks the primary at <root>/chat/completions with the served model name and the key from Secrets Manager', async () => {
    const client = createModelClient(
      pipelineConfig({
        MODEL_ENDPOINT_URL: `${primary.url}/v1`,
        MODEL_API: 'openai',
        MODEL_OPENAI_MODEL: 'Qwen/Qwen2.5-7B-Instruct',
        MODEL_API_KEY_SECRET_ID: 'gg/vllm-key',
      }),
      noSleep,
    );
    const result = await client.invoke(REQUEST, { deadline: farDeadline() });
    expect(result).toMatchObject({ content: 'primary answer', modelId: 'private-llm-int8', billing: { kind: 'free' } });
    const [request] = primary.requests;
    expect(request?.path).toBe('/v1/chat/completions');
    expect(request?.headers.authorization).toBe('Bearer sk-composition-test');
    expect(JSON.parse(request?.body.toString('utf8') ?? '{}')).toMatchObject({ model: 'Qwen/Qwen2.5-7B-Instruct' });
    expect(JSON.parse(secrets.requests[0]?.body.toString('utf8') ?? '{}')).toEqual({ SecretId: 'gg/vllm-key' });
  });

  it('falls back from a failing OpenAI-compatible primary to an OpenAI-compatible fallback, free of model cost', async () => {
    primaryBehaviour = () => ({ statusCode: 503, body: JSON.stringify({ error: { message: 'overloaded' } }) });
    const client = model({
      MODEL_ENDPOINT_URL: `${primary.url}/v1`,
      MODEL_API: 'openai',
      FALLBACK_MODEL_ENDPOINT_URL: `${fallback.url}/v1`,
      FALLBACK_MODEL_API: 'openai',
      FALLBACK_MODEL_OPENAI_MODEL: 'qwen2.5:0.5b',
    });
    const result = await client.invoke(REQUEST, { deadline: farDeadline() });
    expect(result).toMatchObject({ content: '备用模型的回答', modelId: 'fallback-cpu', billing: { kind: 'free' } });
    expect(fallback.requests.map((r) => r.path)).toEqual(['/v1/chat/completions']);
    expect(fallback.requests[0]?.headers.authorization).toBeUndefined();
    expect(JSON.parse(fallback.requests[0]?.body.toString('utf8') ?? '{}')).toMatchObject({ model: 'qwen2.5:0.5b' });
    expect(primaryUnavailable()).toBe(1);
  });
});

describe('streams with a configured fallback (OpenAI-compatible servers, SSE)', () => {
  /** A server streaming `words`, one every `gapMs` after `firstAfterMs`; each request is recorded. */
  function sseServer(plan: () => { firstAfterMs: number; gapMs: number; words: readonly string[] }) {
    const requests: number[] = [];
    const server = createServer((req, res) => {
      requests.push(Date.now());
      req.resume();
      const { firstAfterMs, gapMs, words } = plan();
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
        `data: ${JSON.stringify({ choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
      const timers: NodeJS.Timeout[] = [];
      words.forEach((word, i) => {
        timers.push(setTimeout(() => res.write(chunk({ content: word })), firstAfterMs + i * gapMs));
      });
      timers.push(
        setTimeout(() => res.end(`${chunk({}, 'stop')}data: [DONE]\n\n`), firstAfterMs + words.length * gapMs),
      );
      res.on('close', () => {
        for (const t of timers) clearTimeout(t);
      });
    });
    return { server, requests };
  }

  let slow: ReturnType<typeof sseServer>;
  let backup: ReturnType<typeof sseServer>;
  let slowPlan = { firstAfterMs: 50, gapMs: 100, words: [] as readonly string[] };
  let slowUrl: string;
  let backupUrl: string;

  beforeAll(async () => {
    slow = sseServer(() => slowPlan);
    backup = sseServer(() => ({ firstAfterMs: 10, gapMs: 10, words: ['备用', '回答'] }));
    const listen = (s: Server) =>
      new Promise<string>((resolve) =>
        s.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(s.address() as AddressInfo).port}/v1`)),
      );
    [slowUrl, backupUrl] = await Promise.all([listen(slow.server), listen(backup.server)]);
  });
  afterAll(async () => {
    for (const s of [slow.server, backup.server]) {
      s.closeAllConnections();
      await new Promise((resolve) => s.close(resolve));
    }
  });
  beforeEach(() => {
    slow.requests.length = 0;
    backup.requests.length = 0;
  });

  const streamingModel = () =>
    createModelClient(
      pipelineConfig({
        MODEL_ENDPOINT_URL: slowUrl,
        MODEL_API: 'openai',
        MODEL_ID: 'private-llm-int8',
        FALLBACK_MODEL_ENDPOINT_URL: backupUrl,
        FALLBACK_MODEL_API: 'openai',
        FALLBACK_TIMEOUT_MS: '20000',
      }),
      noSleep,
    );

  it('lets a primary that is already streaming run to the caller’s deadline, past the fallback’s reserve', async () => {
    // 16 words over 1.6 s; the deadline is 2.5 s away, so half of it (1.25 s) is the reserve the primary used to lose.
    slowPlan = { firstAfterMs: 50, gapMs: 100, words: Array.from({ length: 16 }, (_, i) => `w${i} `) };
    const shown: string[] = [];
    const result = await streamingModel().invokeStream(REQUEST, {
      deadline: Date.now() + 2_500,
      onDelta: (text) => shown.push(text),
    });
    expect(result.modelId).toBe('private-llm-int8');
    expect(shown).toHaveLength(16);
    expect(backup.requests).toHaveLength(0);
    expect(primaryUnavailable()).toBe(0);
  });

  it('hands a primary that shows nothing by the reserve over to the fallback, and none of its late words are shown', async () => {
    slowPlan = { firstAfterMs: 1_500, gapMs: 10, words: ['too ', 'late'] };
    const shown: string[] = [];
    const result = await streamingModel().invokeStream(REQUEST, {
      deadline: Date.now() + 2_000,
      onDelta: (text) => shown.push(text),
    });
    expect(result.modelId).toBe('fallback-cpu');
    expect(shown.join('')).toBe('备用回答');
    // Handed over at about half the deadline, well before the primary's first word at 1.5 s.
    expect((backup.requests[0] ?? 0) - (slow.requests[0] ?? 0)).toBeLessThan(1_400);
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(shown.join('')).toBe('备用回答');
    expect(primaryUnavailable()).toBe(1);
  });
});
