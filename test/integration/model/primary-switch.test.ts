import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { withFallback } from '#model/compose-models';
import { createSageMakerClient } from '#model/sagemaker-client';
import { createInstantEngine } from '../../../sandbox/model/instant-engine';
import { type RunningModelServer, startModelServer } from '../../../sandbox/model/model-server';
import { createModelControl, parsePrimaryState } from '../../../sandbox/model-control';
import { type ModelSwitch, startModelSwitch } from '../../../sandbox/model-switch';

/**
 * The primary model's switch (issue 16) against the real local model server and the worker's real SageMaker client:
 * down, the primary's /ping and invocations fail as an unreachable endpoint's would, and recover when it is up again;
 * the worker's composition falls back and its circuit breaker opens, without anything restarting.
 */

const BODY = JSON.stringify({ messages: [{ role: 'user', content: 'are you there' }], max_tokens: 16 });

let primary: RunningModelServer;
let backup: RunningModelServer;
let gate: ModelSwitch;

beforeAll(async () => {
  [primary, backup] = await Promise.all([
    startModelServer({ engine: createInstantEngine() }),
    startModelServer({ engine: createInstantEngine() }),
  ]);
});

beforeEach(async () => {
  gate = await startModelSwitch({ target: primary.url });
});

afterEach(() => gate.close());

afterAll(async () => {
  await Promise.all([primary.close(), backup.close()]);
});

const ping = (base: string) => fetch(`${base}/ping`);
const invoke = (base: string, operation = 'invocations') =>
  fetch(`${base}/endpoints/groupgate-llm/${operation}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: BODY,
  });

describe('the primary switch', () => {
  it('passes /ping, invocations and streams through unchanged while up', async () => {
    expect((await ping(gate.url)).status).toBe(200);
    const answer = await invoke(gate.url);
    expect(answer.status).toBe(200);
    expect(((await answer.json()) as { choices: { message: { content: string } }[] }).choices[0]?.message.content).toBe(
      'echo: are you there',
    );
    const stream = await invoke(gate.url, 'invocations-response-stream');
    expect(stream.status).toBe(200);
    expect(Buffer.from(await stream.arrayBuffer()).toString('latin1')).toContain('[DONE]');
    expect(gate.refusedCalls()).toBe(0);
  });

  it('answers every call 503 ServiceUnavailable while down, and recovers when up again', async () => {
    gate.set('down');
    for (const res of [
      await ping(gate.url),
      await invoke(gate.url),
      await invoke(gate.url, 'invocations-response-stream'),
    ]) {
      expect(res.status).toBe(503);
      expect(res.headers.get('x-amzn-errortype')).toBe('ServiceUnavailable');
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('primary_down');
    }
    expect(gate.refusedCalls()).toBe(3);
    // The engine itself was never touched.
    expect((await ping(primary.url)).status).toBe(200);

    gate.set('up');
    expect((await ping(gate.url)).status).toBe(200);
    expect((await invoke(gate.url)).status).toBe(200);
    expect(gate.refusedCalls()).toBe(3);
  });

  it('answers 502 while up when nothing listens behind it (an external primary that is gone)', async () => {
    const dead = createServer();
    await new Promise<void>((done) => dead.listen(0, '127.0.0.1', () => done()));
    const { port } = dead.address() as AddressInfo;
    await new Promise<void>((done) => dead.close(() => done()));
    const orphan = await startModelSwitch({ target: `http://127.0.0.1:${port}` });
    try {
      expect((await ping(orphan.url)).status).toBe(502);
    } finally {
      await orphan.close();
    }
  });
});

describe("the worker's client behind the switch", () => {
  const client = (url: string, modelId: string) =>
    createSageMakerClient({
      endpointName: 'groupgate-llm',
      endpointUrl: url,
      region: 'us-east-1',
      modelId,
      instanceType: 'ml.g4dn.xlarge',
      credentials: { accessKeyId: 'sandbox', secretAccessKey: 'sandbox' },
      sleep: async () => undefined,
    });
  const request = { messages: [{ role: 'user' as const, content: 'hello' }], maxTokens: 16, temperature: 0 };
  const deadline = () => Date.now() + 10_000;

  it('classifies a switched-off primary as a retryable server error', async () => {
    gate.set('down');
    await expect(client(gate.url, 'private-llm-int8').invoke(request, { deadline: deadline() })).rejects.toMatchObject({
      name: 'ModelError',
      reason: 'server_error',
    });
    // Retried within the deadline: the default 3 attempts all reached the switch.
    expect(gate.refusedCalls()).toBe(3);
  });

  it('falls back while the primary is down, opens its circuit, and returns to the primary once it is up', async () => {
    const primaryClient = client(gate.url, 'private-llm-int8');
    const composed = withFallback(primaryClient, client(backup.url, 'fallback-cpu'), {
      fallBackOn: new Set(['circuit_open', 'throttled', 'server_error']),
    });
    expect((await composed.invoke(request, { deadline: deadline() })).modelId).toBe('private-llm-int8');

    gate.set('down');
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push(await composed.invoke(request, { deadline: deadline() }));
    expect(answers.map((a) => a.modelId)).toEqual(Array(6).fill('fallback-cpu'));
    expect(answers[0]?.content).toBe('echo: hello');
    // Five failed calls (three attempts each) opened the breaker: the sixth went to the fallback without a call.
    expect(primaryClient.circuitState()).toBe('open');
    expect(gate.refusedCalls()).toBe(15);

    gate.set('up');
    expect((await ping(gate.url)).status).toBe(200);
    expect((await client(gate.url, 'private-llm-int8').invoke(request, { deadline: deadline() })).modelId).toBe(
      'private-llm-int8',
    );
  });
});

describe('GET /_sandbox/model and POST /_sandbox/model/primary', () => {
  const control = () =>
    createModelControl({
      switch: gate,
      primary: { url: primary.url, source: 'local', modelId: 'private-llm-int8' },
      fallback: { url: backup.url, source: 'local', modelId: 'fallback-cpu' },
      log: () => undefined,
    });
  const post = (body: string) => control().route('POST', '/_sandbox/model/primary', Buffer.from(body));

  it('shows both models and the switch state', () => {
    expect(control().route('GET', '/_sandbox/model', Buffer.alloc(0))).toEqual({
      status: 200,
      body: {
        primary: {
          url: gate.url,
          target: primary.url,
          source: 'local',
          modelId: 'private-llm-int8',
          state: 'up',
          refusedCalls: 0,
        },
        fallback: { state: 'up', url: backup.url, source: 'local', modelId: 'fallback-cpu' },
      },
    });
  });

  it('switches the primary down and up with {"state"} and answers the new view', async () => {
    expect(post('{"state":"down"}')).toMatchObject({ status: 200, body: { primary: { state: 'down' } } });
    expect(gate.state()).toBe('down');
    expect((await ping(gate.url)).status).toBe(503);
    expect(post('{"state":"down"}')).toMatchObject({ status: 200, body: { primary: { state: 'down' } } });
    expect(post(' {"state":"up"} ')).toMatchObject({ status: 200, body: { primary: { state: 'up' } } });
    expect((await ping(gate.url)).status).toBe(200);
  });

  it.each([
    ['', 'Body must be JSON: {"state":"down"} or {"state":"up"}.'],
    ['down', 'Body must be JSON: {"state":"down"} or {"state":"up"}.'],
    ['"down"', 'Body must be an object: {"state":"down"} or {"state":"up"}.'],
    ['[{"state":"down"}]', 'Body must be an object: {"state":"down"} or {"state":"up"}.'],
    ['{}', 'state must be "down" or "up", and is missing.'],
    ['{"state":"off"}', 'state must be "down" or "up", got "off".'],
    ['{"state":"DOWN"}', 'state must be "down" or "up", got "DOWN".'],
    ['{"state":false}', 'state must be "down" or "up", got false.'],
    ['{"state":"down","force":true}', 'Unknown field(s): force.'],
    ['{"mode":"down"}', 'Unknown field(s): mode. state must be "down" or "up", and is missing.'],
  ])('answers 400 with the reason for %j, and leaves the switch alone', (body, message) => {
    expect(post(body)).toEqual({ status: 400, body: { error: { code: 'invalid_request', message } } });
    expect(gate.state()).toBe('up');
  });

  it('answers 405 for other methods and leaves other paths to the server', () => {
    expect(control().route('POST', '/_sandbox/model', Buffer.from('{"state":"down"}'))?.status).toBe(405);
    expect(control().route('GET', '/_sandbox/model/primary', Buffer.alloc(0))?.status).toBe(405);
    expect(control().route('GET', '/_sandbox/model/backup', Buffer.alloc(0))).toBeUndefined();
    expect(gate.state()).toBe('up');
  });

  it('shows the backup as off when there is none', () => {
    const off = createModelControl({
      switch: gate,
      primary: { url: primary.url, source: 'external', modelId: 'm', problem: 'it answered HTTP 404' },
      log: () => undefined,
    });
    expect(off.view()).toMatchObject({
      primary: { source: 'external', problem: 'it answered HTTP 404' },
      fallback: { state: 'off' },
    });
  });

  it('parses exactly the two states', () => {
    expect(parsePrimaryState(Buffer.from('{"state":"up"}'))).toEqual({ state: 'up' });
    expect(parsePrimaryState(Buffer.from('{"state":"down"}'))).toEqual({ state: 'down' });
  });
});
