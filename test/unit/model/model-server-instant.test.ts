import { ModelError } from '#core/errors';
import type { ChatRequest } from '#model/chat-completions';
import { createSageMakerClient } from '#model/sagemaker-client';
import { createInstantEngine, instantTokens } from '../../../sandbox/model/instant-engine';
import { type RunningModelServer, startModelServer } from '../../../sandbox/model/model-server';

/** The local model server with the INSTANT echo engine, driven by the real SageMaker runtime SDK client. */
let server: RunningModelServer;

beforeAll(async () => {
  server = await startModelServer({
    engine: createInstantEngine(),
    endpointName: 'groupgate-llm',
    maxBodyBytes: 4_096,
    maxTokensLimit: 50,
  });
});
afterAll(() => server.close());

const client = () =>
  createSageMakerClient({
    endpointName: 'groupgate-llm',
    endpointUrl: server.url,
    region: 'us-east-1',
    modelId: 'instant',
    instanceType: 'ml.g4dn.xlarge',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    retry: { maxAttempts: 1 },
  });

const QUESTION = '今天的会议改到几点？🙂 thanks';
const REQUEST: ChatRequest = {
  messages: [
    { role: 'system', content: 'You are GroupGate.' },
    { role: 'user', content: QUESTION },
  ],
  maxTokens: 40,
  temperature: 0,
};
const deadline = () => Date.now() + 5_000;

const post = (path: string, body: string, headers: Record<string, string> = {}) =>
  fetch(`${server.url}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });

describe('model server (instant engine) through the real SDK client', () => {
  it('answers InvokeEndpoint with the chat-completions shape and counted usage', async () => {
    const result = await client().invoke(REQUEST, { deadline: deadline() });
    const expected = instantTokens(`echo: ${QUESTION}`);
    expect(result.content).toBe(`echo: ${QUESTION}`);
    expect(result.finishReason).toBe('stop');
    expect(result.usage.completionTokens).toBe(expected.length);
    expect(result.usage.promptTokens).toBeGreaterThan(0);
    expect(result.usage.totalTokens).toBe(result.usage.promptTokens + result.usage.completionTokens);
  });

  it('streams PayloadPart events the SDK decodes, with deltas, finish reason and usage', async () => {
    const deltas: string[] = [];
    const result = await client().invokeStream(REQUEST, { deadline: deadline(), onDelta: (d) => deltas.push(d) });
    expect(deltas).toEqual(instantTokens(`echo: ${QUESTION}`));
    expect(result.content).toBe(`echo: ${QUESTION}`);
    expect(result.finishReason).toBe('stop');
    expect(result.usage?.completionTokens).toBe(deltas.length);
    expect(result.timeToFirstTokenMs).toBeGreaterThanOrEqual(0);
  });

  it('reports length when max_tokens cuts the answer, bounded by the server limit', async () => {
    const result = await client().invoke({ ...REQUEST, maxTokens: 3 }, { deadline: deadline() });
    expect(result.finishReason).toBe('length');
    expect(result.usage.completionTokens).toBe(3);
    const long = { ...REQUEST, messages: [{ role: 'user' as const, content: 'word '.repeat(200) }], maxTokens: 500 };
    expect((await client().invoke(long, { deadline: deadline() })).usage.completionTokens).toBe(50);
  });

  it('an unknown endpoint name is a client error, like SageMaker', async () => {
    const other = createSageMakerClient({
      endpointName: 'nope',
      endpointUrl: server.url,
      region: 'us-east-1',
      modelId: 'instant',
      instanceType: 'ml.g4dn.xlarge',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    const err = await other.invoke(REQUEST, { deadline: deadline() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelError);
    expect((err as ModelError).reason).toBe('client_error');
  });
});

describe('model server request validation', () => {
  const path = '/endpoints/groupgate-llm/invocations';

  it('GET /ping answers 200', async () => {
    expect((await fetch(`${server.url}/ping`)).status).toBe(200);
  });

  it.each([
    ['non-JSON', 'hello', /UTF-8 JSON/],
    ['missing messages', '{"max_tokens":5}', /messages/],
    ['empty messages', '{"messages":[]}', /messages/],
    ['a wrong role', '{"messages":[{"role":"wizard","content":"hi"}]}', /messages\.0\.role/],
    ['non-string content', '{"messages":[{"role":"user","content":5}]}', /messages\.0\.content/],
    ['negative max_tokens', '{"messages":[{"role":"user","content":"hi"}],"max_tokens":-1}', /max_tokens/],
  ])('rejects %s with 400 and a JSON error', async (_label, body, message) => {
    const res = await post(path, body);
    expect(res.status).toBe(400);
    expect(res.headers.get('x-amzn-errortype')).toBe('ValidationError');
    const json = (await res.json()) as { error: { code: string; message: string } };
    expect(json.error.message).toMatch(message);
  });

  it('rejects an over-limit body with 413', async () => {
    const body = JSON.stringify({ messages: [{ role: 'user', content: 'x'.repeat(10_000) }] });
    const res = await post(path, body);
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('payload_too_large');
  });

  it('answers unknown routes with 404', async () => {
    expect((await post('/endpoints/groupgate-llm/other', '{}')).status).toBe(404);
    expect((await fetch(`${server.url}/endpoints/groupgate-llm/invocations`)).status).toBe(404);
  });
});
