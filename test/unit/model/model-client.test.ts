import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ChatRequest } from '#model/chat-completions';
import { createSageMakerClient, type SageMakerClientOptions } from '#model/sagemaker-client';
import { modelError } from '../../helpers/factories';

/** One scripted reply of the fake endpoint: status, optional SageMaker error type, raw body; or hang forever. */
type Reply = { status: number; errorType?: string; body: string } | 'hang';

interface Recorded {
  path: string;
  body: unknown;
}

const completion = (content: string) =>
  JSON.stringify({
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 },
  });

const REQUEST: ChatRequest = {
  messages: [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: '你好，请问报销流程是什么？' },
  ],
  maxTokens: 64,
  temperature: 0.2,
};

let server: Server;
let url: string;
let script: Reply[];
let recorded: Recorded[];
const hanging: ServerResponse[] = [];

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      recorded.push({ path: req.url ?? '', body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      const reply = script.shift() ?? { status: 500, errorType: 'InternalFailure', body: '{"message":"unscripted"}' };
      if (reply === 'hang') {
        hanging.push(res);
        return;
      }
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (reply.errorType) headers['x-amzn-errortype'] = reply.errorType;
      res.writeHead(reply.status, headers).end(reply.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const res of hanging) res.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  script = [];
  recorded = [];
});

function client(overrides: Partial<SageMakerClientOptions> = {}) {
  const sleeps: number[] = [];
  const c = createSageMakerClient({
    endpointName: 'groupgate-llm',
    endpointUrl: url,
    region: 'us-east-1',
    modelId: 'demo-model',
    instanceType: 'ml.g4dn.xlarge',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    retry: { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 1000 },
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
    ...overrides,
  });
  return { c, sleeps };
}

const deadline = (ms = 10_000) => Date.now() + ms;

describe('createSageMakerClient.invoke', () => {
  it('sends the chat-completions body to the endpoint path and parses the answer', async () => {
    script = [{ status: 200, body: completion('报销请走 OA 系统。') }];
    const result = await client().c.invoke(REQUEST, { deadline: deadline() });
    expect(result).toMatchObject({
      content: '报销请走 OA 系统。',
      finishReason: 'stop',
      usage: { promptTokens: 7, completionTokens: 3, totalTokens: 10 },
      attempts: 1,
      modelId: 'demo-model',
      billing: { kind: 'sagemaker', instanceType: 'ml.g4dn.xlarge' },
    });
    expect(result.latencyMs).toBeGreaterThanOrEqual(0);
    // The first words arrive with the whole answer: TimeToFirstTokenMs is fed with the call's latency.
    expect(result.timeToFirstTokenMs).toBe(result.latencyMs);
    expect(recorded).toEqual([
      {
        path: '/endpoints/groupgate-llm/invocations',
        body: { messages: REQUEST.messages, max_tokens: 64, temperature: 0.2, stream: false },
      },
    ]);
  });

  it('retries a 5xx with full-jitter back-off, then succeeds', async () => {
    script = [
      { status: 500, errorType: 'InternalFailure', body: '{"message":"boom"}' },
      { status: 503, errorType: 'ServiceUnavailable', body: '{"message":"busy"}' },
      { status: 200, body: completion('ok') },
    ];
    const { c, sleeps } = client();
    const result = await c.invoke(REQUEST, { deadline: deadline() });
    expect(result.content).toBe('ok');
    expect(result.attempts).toBe(3);
    // random() = 0.5 → half of min(cap, base·2^attempt)
    expect(sleeps).toEqual([50, 100]);
    expect(recorded).toHaveLength(3);
  });

  it('retries throttling (429) and reports throttled once attempts run out', async () => {
    const throttle: Reply = { status: 429, errorType: 'ThrottlingException', body: '{"message":"slow down"}' };
    script = [throttle, throttle, throttle];
    const err = await modelError(client().c.invoke(REQUEST, { deadline: deadline() }));
    expect(err.reason).toBe('throttled');
    expect(err.code).toBe('model_throttled');
    expect(recorded).toHaveLength(3);
  });

  it('treats ModelNotReadyException as throttling and retries it', async () => {
    script = [
      { status: 429, errorType: 'ModelNotReadyException', body: '{"message":"warming"}' },
      { status: 200, body: completion('ready') },
    ];
    expect((await client().c.invoke(REQUEST, { deadline: deadline() })).attempts).toBe(2);
  });

  it('never retries a 4xx validation error', async () => {
    script = [{ status: 400, errorType: 'ValidationError', body: '{"message":"bad input"}' }];
    const err = await modelError(client().c.invoke(REQUEST, { deadline: deadline() }));
    expect(err.reason).toBe('client_error');
    expect(err.message).toContain('bad input');
    expect(recorded).toHaveLength(1);
  });

  it('does not retry when the back-off would pass the deadline', async () => {
    script = [{ status: 500, errorType: 'InternalFailure', body: '{"message":"boom"}' }];
    const { c } = client({ retry: { maxAttempts: 5, baseDelayMs: 60_000, maxDelayMs: 60_000 } });
    const err = await modelError(c.invoke(REQUEST, { deadline: deadline(5_000) }));
    expect(err.reason).toBe('server_error');
    expect(recorded).toHaveLength(1);
  });

  it('aborts at the deadline with a timeout error', async () => {
    script = ['hang'];
    const started = Date.now();
    const err = await modelError(client().c.invoke(REQUEST, { deadline: deadline(300) }));
    expect(err.reason).toBe('timeout');
    expect(err.httpStatus).toBe(504);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it.each([
    ['not JSON', 'this is not json'],
    ['no choices', JSON.stringify({ choices: [], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } })],
    [
      'missing usage',
      JSON.stringify({ choices: [{ message: { role: 'assistant', content: 'x' }, finish_reason: 'stop' }] }),
    ],
    [
      'content not a string',
      JSON.stringify({
        choices: [{ message: { role: 'assistant', content: 42 }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
      }),
    ],
  ])('rejects a malformed response (%s) as bad_response without retrying', async (_label, body) => {
    script = [{ status: 200, body }];
    const err = await modelError(client().c.invoke(REQUEST, { deadline: deadline() }));
    expect(err.reason).toBe('bad_response');
    expect(recorded).toHaveLength(1);
  });

  it.each([
    ['stop', 'stop'],
    ['length', 'length'],
    ['eos_token', 'stop'], // TGI
    ['stop_sequence', 'stop'], // TGI
    ['max_tokens', 'length'],
    ['content_filter', 'content_filter'],
    ['tool_calls', 'unknown'],
    ['something_new', 'unknown'],
    ['constructor', 'unknown'], // not read off Object.prototype
    [null, 'unknown'],
    [undefined, 'unknown'],
  ])('carries finish_reason %j as %j (only a natural end is "stop")', async (wire, expected) => {
    const choice = { index: 0, message: { role: 'assistant', content: 'x' }, finish_reason: wire };
    script = [
      {
        status: 200,
        body: JSON.stringify({ choices: [choice], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }),
      },
    ];
    const result = await client().c.invoke(REQUEST, { deadline: deadline() });
    expect(result.finishReason).toBe(expected);
  });
});

describe('createSageMakerClient circuit breaker', () => {
  it('opens after consecutive failures, fails fast, then lets one probe through after the cool-down', async () => {
    let clock = 1_000_000;
    const { c } = client({
      now: () => clock,
      retry: { maxAttempts: 1 },
      breaker: { failureThreshold: 2, windowMs: 60_000, coolDownMs: 30_000 },
    });
    const callDeadline = () => clock + 10_000;
    const fail: Reply = { status: 500, errorType: 'InternalFailure', body: '{"message":"down"}' };
    script = [fail, fail];
    expect((await modelError(c.invoke(REQUEST, { deadline: callDeadline() }))).reason).toBe('server_error');
    expect(c.circuitState()).toBe('closed');
    expect((await modelError(c.invoke(REQUEST, { deadline: callDeadline() }))).reason).toBe('server_error');
    expect(c.circuitState()).toBe('open');

    const open = await modelError(c.invoke(REQUEST, { deadline: callDeadline() }));
    expect(open.reason).toBe('circuit_open');
    expect(recorded).toHaveLength(2); // failed fast: the endpoint was not called

    clock += 30_000;
    expect(c.circuitState()).toBe('half_open');
    script = [{ status: 200, body: completion('back') }];
    expect((await c.invoke(REQUEST, { deadline: callDeadline() })).content).toBe('back');
    expect(c.circuitState()).toBe('closed');
  });

  it('re-opens when the half-open probe fails', async () => {
    let clock = 0;
    const { c } = client({
      now: () => clock,
      retry: { maxAttempts: 1 },
      breaker: { failureThreshold: 1, coolDownMs: 1_000 },
    });
    script = [{ status: 503, errorType: 'ServiceUnavailable', body: '{}' }];
    await modelError(c.invoke(REQUEST, { deadline: clock + 10_000 }));
    expect(c.circuitState()).toBe('open');
    clock += 1_000;
    script = [{ status: 503, errorType: 'ServiceUnavailable', body: '{}' }];
    expect((await modelError(c.invoke(REQUEST, { deadline: clock + 10_000 }))).reason).toBe('server_error');
    expect(c.circuitState()).toBe('open');
    expect((await modelError(c.invoke(REQUEST, { deadline: clock + 10_000 }))).reason).toBe('circuit_open');
  });

  it('does not count client errors towards opening', async () => {
    const { c } = client({ retry: { maxAttempts: 1 }, breaker: { failureThreshold: 1 } });
    script = [{ status: 400, errorType: 'ValidationError', body: '{"message":"nope"}' }];
    await modelError(c.invoke(REQUEST, { deadline: deadline() }));
    expect(c.circuitState()).toBe('closed');
  });
});
