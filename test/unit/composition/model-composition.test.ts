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

  it('with too little time for the primary before the reserve, the fallback answers and the primary is neither asked nor counted', async () => {
    primaryBehaviour = hang;
    const client = model({ FALLBACK_TIMEOUT_MS: '20000' });
    const result = await client.invoke(REQUEST, { deadline: Date.now() + 1_500 });
    expect(result.modelId).toBe('fallback-cpu');
    expect(primary.requests).toHaveLength(0);
    expect(primaryUnavailable()).toBe(0);
    expect(client.circuitState()).toBe('closed');
  });

  it("a caller's call budget caps the reserve at half of it, so the primary is still asked (the chat-api)", async () => {
    primaryBehaviour = hang;
    // FALLBACK_TIMEOUT_MS 20 s, but the caller allows 2 s per call: 1 s is kept for the fallback.
    const client = model({ FALLBACK_TIMEOUT_MS: '20000' }, { callBudgetMs: 2_000 });
    const result = await client.invoke(REQUEST, { deadline: Date.now() + 1_500 });
    expect(result.modelId).toBe('fallback-cpu');
    expect(primary.requests).toHaveLength(1);
    expect(primaryUnavailable()).toBe(1);
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
