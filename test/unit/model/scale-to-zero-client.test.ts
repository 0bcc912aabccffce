import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createModelClient } from '#composition/model-composition';
import { ModelError } from '#core/errors';
import type { ChatRequest } from '#model/chat-completions';
import { classifyModelError, isNoCapacityRefusal } from '#model/classify-error';
import { DEFAULT_FALLBACK_POLICY, withFallback } from '#model/compose-models';
import type { ModelClient } from '#model/model-client';
import { createSageMakerClient, type SageMakerClientOptions } from '#model/sagemaker-client';
import { workerConfig } from '../../helpers/factories/config';

/** What SageMaker answers a call to an inference component with no copy (scaled to zero, or waking). */
const NO_CAPACITY_MESSAGE =
  'Inference Component has no capacity to process this request. ApplicationAutoScaling may be in-progress (if ' +
  'configured) or try to increase the capacity by invoking UpdateInferenceComponentRuntimeConfig API.';
/** The header the runtime SDK sends `InferenceComponentName` in. */
const COMPONENT_HEADER = 'x-amzn-sagemaker-inference-component';

type Reply = { status: number; errorType?: string; body: string };

const completion = (content: string) =>
  JSON.stringify({
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 },
  });
const noCapacity: Reply = {
  status: 400,
  errorType: 'ValidationError',
  body: JSON.stringify({ message: NO_CAPACITY_MESSAGE }),
};

const REQUEST: ChatRequest = { messages: [{ role: 'user', content: 'hello' }], maxTokens: 16, temperature: 0 };

let server: Server;
let url: string;
let script: Reply[];
let headers: IncomingMessage['headers'][];

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      headers.push(req.headers);
      const reply = script.shift() ?? { status: 500, errorType: 'InternalFailure', body: '{"message":"unscripted"}' };
      const out: Record<string, string> = { 'content-type': 'application/json' };
      if (reply.errorType) out['x-amzn-errortype'] = reply.errorType;
      res.writeHead(reply.status, out).end(reply.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  script = [];
  headers = [];
});

function client(overrides: Partial<SageMakerClientOptions> = {}): { c: ModelClient; sleeps: number[] } {
  const sleeps: number[] = [];
  const c = createSageMakerClient({
    endpointName: 'groupgate-llm',
    endpointUrl: url,
    region: 'us-east-1',
    modelId: 'private-llm-int8',
    instanceType: 'ml.g4dn.xlarge',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    retry: { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 1000 },
    breaker: { failureThreshold: 3 },
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    ...overrides,
  });
  return { c, sleeps };
}

const deadline = () => Date.now() + 10_000;

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => undefined,
    (e: unknown) => e,
  );
}

describe('InferenceComponentName', () => {
  it('is sent with every whole-answer call when configured', async () => {
    script = [{ status: 200, body: completion('hi') }];
    const { c } = client({ inferenceComponentName: 'GroupGate-llm-ic' });
    expect((await c.invoke(REQUEST, { deadline: deadline() })).content).toBe('hi');
    expect(headers[0]?.[COMPONENT_HEADER]).toBe('GroupGate-llm-ic');
  });

  it('is sent with streamed calls too', async () => {
    script = [noCapacity];
    const { c } = client({ inferenceComponentName: 'GroupGate-llm-ic' });
    await rejection(c.invokeStream(REQUEST, { deadline: deadline() }));
    expect(headers).toHaveLength(1);
    expect(headers[0]?.[COMPONENT_HEADER]).toBe('GroupGate-llm-ic');
  });

  it('is not sent to an instance-based endpoint', async () => {
    script = [{ status: 200, body: completion('hi') }];
    await client().c.invoke(REQUEST, { deadline: deadline() });
    expect(headers[0]?.[COMPONENT_HEADER]).toBeUndefined();
  });
});

describe('the worker, configured with MODEL_INFERENCE_COMPONENT', () => {
  // The worker signs with the default credential chain, as in Lambda.
  const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
  beforeAll(() => {
    process.env.AWS_ACCESS_KEY_ID = 'test';
    process.env.AWS_SECRET_ACCESS_KEY = 'test';
  });
  afterAll(() => {
    for (const [key, value] of [
      ['AWS_ACCESS_KEY_ID', saved.id],
      ['AWS_SECRET_ACCESS_KEY', saved.secret],
    ] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });

  it('names the component in its model calls', async () => {
    script = [{ status: 200, body: completion('from the component') }];
    const config = workerConfig({ MODEL_ENDPOINT_URL: url, MODEL_INFERENCE_COMPONENT: 'GroupGate-llm-ic' });
    expect(config.model.inferenceComponentName).toBe('GroupGate-llm-ic');
    const result = await createModelClient(config, { sleep: async () => undefined }).invoke(REQUEST, {
      deadline: deadline(),
    });
    expect(result.content).toBe('from the component');
    expect(headers[0]?.[COMPONENT_HEADER]).toBe('GroupGate-llm-ic');
  });

  it('refuses a component name SageMaker would not accept', () => {
    expect(() => workerConfig({ MODEL_INFERENCE_COMPONENT: 'not a name!' })).toThrow(/MODEL_INFERENCE_COMPONENT/);
  });
});

describe('a call to a component scaled to zero', () => {
  it('fails at once as throttled, without a retry', async () => {
    script = [noCapacity, { status: 200, body: completion('too late') }];
    const { c, sleeps } = client({ inferenceComponentName: 'GroupGate-llm-ic' });
    const err = await rejection(c.invoke(REQUEST, { deadline: deadline() }));
    expect(err).toBeInstanceOf(ModelError);
    expect((err as ModelError).reason).toBe('throttled');
    expect((err as ModelError).message).toContain('scaled to zero');
    expect(headers).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('never opens the breaker, so the first call after the wake reaches the primary', async () => {
    const { c } = client({ inferenceComponentName: 'GroupGate-llm-ic' });
    script = [noCapacity, noCapacity, noCapacity, noCapacity, noCapacity, { status: 200, body: completion('awake') }];
    for (let i = 0; i < 5; i += 1) await rejection(c.invoke(REQUEST, { deadline: deadline() }));
    expect(c.circuitState()).toBe('closed');
    expect((await c.invoke(REQUEST, { deadline: deadline() })).content).toBe('awake');
    expect(headers).toHaveLength(6);
  });

  it('while real server faults still open it (the threshold is 3 here)', async () => {
    const { c } = client({ retry: { maxAttempts: 1 } });
    const fault: Reply = { status: 500, errorType: 'InternalFailure', body: '{"message":"boom"}' };
    script = [fault, fault, fault];
    for (let i = 0; i < 3; i += 1) await rejection(c.invoke(REQUEST, { deadline: deadline() }));
    expect(c.circuitState()).toBe('open');
  });

  it('is handed to the fallback by withFallback at once', async () => {
    script = [noCapacity];
    const fallback: ModelClient = {
      id: 'fallback-cpu',
      billing: { kind: 'free' },
      circuitState: () => 'closed',
      invoke: async () => ({
        content: 'from the fallback',
        finishReason: 'stop',
        usage: { promptTokens: 1, completionTokens: 1, totalTokens: 2 },
        latencyMs: 1,
        timeToFirstTokenMs: 1,
        attempts: 1,
        modelId: 'fallback-cpu',
        billing: { kind: 'free' },
      }),
      invokeStream: async () => {
        throw new Error('not used');
      },
    };
    const composed = withFallback(
      client({ inferenceComponentName: 'GroupGate-llm-ic' }).c,
      fallback,
      DEFAULT_FALLBACK_POLICY,
    );
    const result = await composed.invoke(REQUEST, { deadline: deadline() });
    expect(result).toMatchObject({ content: 'from the fallback', modelId: 'fallback-cpu' });
    expect(headers).toHaveLength(1);
  });
});

describe('classifyModelError: no capacity', () => {
  const sdkError = (name: string, message: string) =>
    Object.assign(new Error(message), { name, $metadata: { httpStatusCode: 400 } });

  it('is throttled, not retryable, and counts as the endpoint answering', () => {
    const classified = classifyModelError(sdkError('ValidationError', NO_CAPACITY_MESSAGE));
    expect(classified.error.reason).toBe('throttled');
    expect(classified.retryable).toBe(false);
    expect(classified.endpointAnswered).toBe(true);
  });

  it('leaves other validation errors client errors the fallback does not take', () => {
    const missingHeader = sdkError(
      'ValidationError',
      'Inference Component Name header is required for endpoints to which you plan to deploy inference components.',
    );
    expect(isNoCapacityRefusal(missingHeader)).toBe(false);
    const classified = classifyModelError(missingHeader);
    expect(classified.error.reason).toBe('client_error');
    expect(classified.endpointAnswered).toBeUndefined();
  });

  it('needs both the name and the message', () => {
    expect(isNoCapacityRefusal(sdkError('ModelError', NO_CAPACITY_MESSAGE))).toBe(false);
    expect(isNoCapacityRefusal({ name: 'ValidationError' })).toBe(false);
    expect(isNoCapacityRefusal(undefined)).toBe(false);
  });
});
