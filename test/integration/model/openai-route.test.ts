import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { GenerateParams, GenerateResult, ModelEngine } from '#local-model/engine';
import type { ChatRequest } from '#model/chat-completions';
import { createOpenAiClient } from '#model/openai-client';
import { createSageMakerClient } from '#model/sagemaker-client';
import { writeDemoModel } from '../../../sandbox/model/demo-model';
import { createInstantEngine, instantTokens } from '../../../sandbox/model/instant-engine';
import { type RunningModelServer, startModelServer } from '../../../sandbox/model/model-server';
import { modelError } from '../../helpers/factories';

/**
 * The local model server's OpenAI route (`POST /v1/chat/completions`) driven by the OpenAI-compatible client:
 * first the real engine (node-llama-cpp on the generated demo GGUF, in a child process because node-llama-cpp is
 * ESM-only), then the instant engine in-process for the bearer-key check and the route's error contract.
 */
const REPO_ROOT = resolve(__dirname, '../../..');
const KEY = 'sk-sandbox-7f3a9c';

const chinese = (content: string, maxTokens = 24): ChatRequest => ({
  messages: [
    { role: 'system', content: '你是 GroupGate 助手。' },
    { role: 'user', content },
  ],
  maxTokens,
  temperature: 0,
});
const deadline = (ms = 20_000) => Date.now() + ms;

const openAiClient = (serverUrl: string, apiKey?: string) =>
  createOpenAiClient({
    baseUrl: `${serverUrl}/v1`,
    model: 'local',
    modelId: 'sandbox-openai',
    ...(apiKey === undefined ? {} : { apiKey: async () => apiKey }),
    billing: { kind: 'free' },
    retry: { maxAttempts: 1 },
  });

interface OpenAiErrorBody {
  error: { message: string; type: string; code: string };
}

describe('OpenAI route on the real local engine (generated demo GGUF)', () => {
  let dir: string;
  let child: ChildProcessWithoutNullStreams | undefined;
  let url = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'groupgate-openai-'));
    const modelPath = join(dir, 'demo.gguf');
    await writeDemoModel(modelPath);
    const started = spawn(process.execPath, ['--import', 'tsx', 'sandbox/model/server-main.ts'], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        MODEL_PATH: modelPath,
        MODEL_THREADS: '1',
        MODEL_CONCURRENCY: '2',
        MODEL_CONTEXT_SIZE: '1024',
        MODEL_MAX_TOKENS: '32',
      },
    });
    child = started;
    let stderr = '';
    started.stderr.on('data', (d: Buffer) => {
      stderr += d.toString('utf8');
    });
    url = await new Promise<string>((ready, fail) => {
      const timer = setTimeout(() => fail(new Error(`model server not ready in 25 s; stderr:\n${stderr}`)), 25_000);
      started.once('exit', (code) => {
        clearTimeout(timer);
        fail(new Error(`model server exited with ${code}; stderr:\n${stderr}`));
      });
      createInterface({ input: started.stdout }).on('line', (line) => {
        const msg = JSON.parse(line) as { event: string; url?: string };
        if (msg.event === 'ready' && msg.url) {
          clearTimeout(timer);
          started.removeAllListeners('exit');
          ready(msg.url);
        }
      });
    });
  }, 40_000);

  afterAll(async () => {
    const running = child;
    if (running && running.exitCode === null) {
      await new Promise<void>((done) => {
        running.once('exit', () => done());
        running.kill('SIGTERM');
      });
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('answers a whole-answer call with usage counted by the real tokenizer', async () => {
    const result = await openAiClient(url).invoke(chinese('你好，请问报销流程是什么？'), { deadline: deadline() });
    expect(result.modelId).toBe('sandbox-openai');
    expect(result.attempts).toBe(1);
    expect(result.usage.promptTokens).toBeGreaterThan(0);
    expect(result.usage.completionTokens).toBeGreaterThan(0);
    expect(result.usage.completionTokens).toBeLessThanOrEqual(24);
    expect(result.usage.totalTokens).toBe(result.usage.promptTokens + result.usage.completionTokens);
    expect(['stop', 'length']).toContain(result.finishReason);
  });

  it('streams deltas over SSE with a final usage chunk', async () => {
    const deltas: string[] = [];
    const result = await openAiClient(url).invokeStream(chinese('用一句话介绍你自己 🙂', 32), {
      deadline: deadline(),
      onDelta: (d) => deltas.push(d),
    });
    expect(deltas.length).toBeGreaterThan(0);
    expect(result.content).toBe(deltas.join(''));
    expect(result.usage?.completionTokens).toBeGreaterThan(0);
    expect(result.usage?.completionTokens).toBeLessThanOrEqual(32);
    expect(result.timeToFirstTokenMs).toBeGreaterThanOrEqual(0);
  });
});

describe('OpenAI route with a bearer key (instant engine)', () => {
  let server: RunningModelServer;
  const QUESTION = '今天的会议改到几点？🙂';

  beforeAll(async () => {
    server = await startModelServer({ engine: createInstantEngine(), apiKey: KEY, maxBodyBytes: 4_096 });
  });
  afterAll(() => server.close());

  const post = (body: string, headers: Record<string, string> = { authorization: `Bearer ${KEY}` }) =>
    fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', ...headers },
    });

  it('answers the client with the right key, streaming and not', async () => {
    const client = openAiClient(server.url, KEY);
    const whole = await client.invoke(chinese(QUESTION), { deadline: deadline() });
    expect(whole.content).toBe(`echo: ${QUESTION}`);
    expect(whole.usage.completionTokens).toBe(instantTokens(`echo: ${QUESTION}`).length);
    const deltas: string[] = [];
    const streamed = await client.invokeStream(chinese(QUESTION), {
      deadline: deadline(),
      onDelta: (d) => deltas.push(d),
    });
    expect(deltas).toEqual(instantTokens(`echo: ${QUESTION}`));
    expect(streamed.finishReason).toBe('stop');
    expect(streamed.usage?.completionTokens).toBe(deltas.length);
  });

  it('a wrong key gets 401 in OpenAI error shape; the client reports a refused key without the key', async () => {
    const res = await post(JSON.stringify(chinese('hi')), { authorization: 'Bearer sk-wrong' });
    expect(res.status).toBe(401);
    const body = (await res.json()) as OpenAiErrorBody;
    expect(body.error).toEqual({
      message: 'Missing or incorrect API key.',
      type: 'invalid_request_error',
      code: 'invalid_api_key',
    });
    const err = await modelError(openAiClient(server.url, 'sk-wrong').invoke(chinese('hi'), { deadline: deadline() }));
    expect(err.reason).toBe('client_error');
    expect(err.message).toMatch(/refused the API key/);
    expect(err.message).not.toContain('sk-wrong');
  });

  it.each([
    ['no Authorization header', {}],
    ['a non-bearer scheme', { authorization: `Basic ${KEY}` }],
    ['an empty bearer', { authorization: 'Bearer ' }],
  ])('refuses %s with 401', async (_label, headers: Record<string, string>) => {
    expect((await post(JSON.stringify(chinese('hi')), headers)).status).toBe(401);
  });

  it('leaves the SageMaker routes as they were (no bearer key there)', async () => {
    const sagemaker = createSageMakerClient({
      endpointName: 'groupgate-llm',
      endpointUrl: server.url,
      region: 'us-east-1',
      modelId: 'instant',
      instanceType: 'ml.g4dn.xlarge',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      retry: { maxAttempts: 1 },
    });
    expect((await sagemaker.invoke(chinese('hi'), { deadline: deadline() })).content).toBe('echo: hi');
  });

  it('sends the usage chunk only when stream_options.include_usage asks for it, and ends with [DONE]', async () => {
    const base = { messages: [{ role: 'user', content: 'hi' }], stream: true };
    const plain = await post(JSON.stringify(base));
    expect(plain.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const plainText = await plain.text();
    expect(plainText).not.toContain('"usage"');
    expect(plainText.endsWith('data: [DONE]\n\n')).toBe(true);
    const withUsage = await (await post(JSON.stringify({ ...base, stream_options: { include_usage: true } }))).text();
    expect(withUsage).toContain('"usage":{"prompt_tokens"');
  });

  it('answers a whole-answer request in the chat.completion shape, accepting OpenAI-only fields', async () => {
    const res = await post(
      JSON.stringify({ model: 'anything', messages: [{ role: 'user', content: 'hi' }], top_p: 1, n: 1, user: 'u1' }),
    );
    expect(res.status).toBe(200);
    const json = (await res.json()) as { object: string; choices: { message: { content: string } }[] };
    expect(json.object).toBe('chat.completion');
    expect(json.choices[0]?.message.content).toBe('echo: hi');
  });

  it.each([
    ['non-JSON', 'hello', 400, 'invalid_json'],
    ['a wrong role', '{"messages":[{"role":"wizard","content":"hi"}]}', 400, 'invalid_request'],
    ['a non-string model', '{"model":5,"messages":[{"role":"user","content":"hi"}]}', 400, 'invalid_request'],
    [
      'an over-limit body',
      JSON.stringify({ messages: [{ role: 'user', content: 'x'.repeat(10_000) }] }),
      413,
      'payload_too_large',
    ],
  ])('rejects %s with its status and code in OpenAI error shape', async (_label, body, status, code) => {
    const res = await post(body);
    expect(res.status).toBe(status);
    const json = (await res.json()) as OpenAiErrorBody;
    expect(json.error.code).toBe(code);
    expect(json.error.type).toBe('invalid_request_error');
    expect(json.error.message.length).toBeGreaterThan(0);
  });

  it('answers other /v1 paths and methods with 404 in OpenAI error shape', async () => {
    const other = await fetch(`${server.url}/v1/completions`, { method: 'POST', body: '{}' });
    expect(other.status).toBe(404);
    expect(((await other.json()) as OpenAiErrorBody).error.code).toBe('not_found');
    expect((await fetch(`${server.url}/v1/chat/completions`)).status).toBe(404);
  });

  it('refuses an empty apiKey option at start-up', async () => {
    await expect(startModelServer({ engine: createInstantEngine(), apiKey: '' })).rejects.toThrow(RangeError);
  });
});

describe('OpenAI route failure paths', () => {
  /** Streams one piece, then fails: what a crashing engine does mid-answer. */
  const failingEngine: ModelEngine = {
    name: 'failing',
    concurrency: 1,
    async generate(p: GenerateParams): Promise<GenerateResult> {
      p.onText?.('部分');
      throw new Error('engine exploded mid-answer');
    },
    async close() {},
  };
  let server: RunningModelServer;
  const logged: string[] = [];

  beforeAll(async () => {
    server = await startModelServer({ engine: failingEngine, logError: (message) => logged.push(message) });
  });
  afterAll(() => server.close());

  it('a mid-stream engine failure is an SSE error event: the client keeps the delta and reports server_error', async () => {
    const deltas: string[] = [];
    const err = await modelError(
      openAiClient(server.url).invokeStream(chinese('hi'), { deadline: deadline(), onDelta: (d) => deltas.push(d) }),
    );
    expect(err.reason).toBe('server_error');
    expect(err.message).toContain('Generation failed');
    expect(deltas).toEqual(['部分']);
    expect(logged).toContain('[model-server] stream failed');
  });

  it('an engine failure on a whole-answer call is a 500 in OpenAI error shape, a server_error for the client', async () => {
    const err = await modelError(openAiClient(server.url).invoke(chinese('hi'), { deadline: deadline() }));
    expect(err.reason).toBe('server_error');
    expect(err.message).toContain('The model server failed');
  });
});
