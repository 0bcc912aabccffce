import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { ModelError } from '#core/errors';
import type { ChatRequest } from '#model/chat-completions';
import { createSageMakerClient } from '#model/sagemaker-client';
import { writeDemoModel } from '../../../sandbox/model/demo-model';

/**
 * The real local model server (node-llama-cpp on CPU) in a child process — node-llama-cpp is ESM-only and jest runs
 * CommonJS — driven by the worker's real SageMaker runtime client, on the project's own generated demo GGUF.
 */
const REPO_ROOT = resolve(__dirname, '../../..');
const ENDPOINT = 'groupgate-llm';
/** Optional extra: the shared real-vocabulary test model, used only when present (never required). */
const SHARED_MODEL = process.env.GROUPGATE_TEST_GGUF ?? resolve(REPO_ROOT, '../shared/models/llama-2-tiny-random.gguf');

interface ReadyLine {
  event: 'ready';
  url: string;
  engine: string;
  loadMs: number;
}

interface StartedServer {
  child: ChildProcessWithoutNullStreams;
  ready: ReadyLine;
  progress: number[];
}

function startServer(modelPath: string): Promise<StartedServer> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'sandbox/model/server-main.ts'], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      MODEL_PATH: modelPath,
      MODEL_ENDPOINT_NAME: ENDPOINT,
      MODEL_THREADS: '1',
      MODEL_CONCURRENCY: '2',
      MODEL_CONTEXT_SIZE: '1024',
      MODEL_MAX_TOKENS: '48',
    },
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString('utf8');
  });
  const progress: number[] = [];
  return new Promise((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error(`model server not ready in 25 s; stderr:\n${stderr}`)), 25_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`model server exited with ${code}; stderr:\n${stderr}`));
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      const msg = JSON.parse(line) as { event: string; progress?: number };
      if (msg.event === 'loading' && msg.progress !== undefined) progress.push(msg.progress);
      if (msg.event === 'ready') {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolveReady({ child, ready: msg as ReadyLine, progress });
      }
    });
  });
}

function stopServer(server: StartedServer | undefined): Promise<void> {
  if (!server || server.child.exitCode !== null) return Promise.resolve();
  return new Promise((done) => {
    server.child.once('exit', () => done());
    server.child.kill('SIGTERM');
  });
}

const clientFor = (url: string) =>
  createSageMakerClient({
    endpointName: ENDPOINT,
    endpointUrl: url,
    region: 'us-east-1',
    modelId: 'demo',
    instanceType: 'ml.g4dn.xlarge',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    retry: { maxAttempts: 1 },
  });

const chinese = (content: string, maxTokens = 24): ChatRequest => ({
  messages: [
    { role: 'system', content: '你是 GroupGate 助手。' },
    { role: 'user', content },
  ],
  maxTokens,
  temperature: 0,
});
const deadline = () => Date.now() + 20_000;

describe('local model server with the generated demo GGUF', () => {
  let dir: string;
  let server: StartedServer | undefined;
  let modelSize = 0;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'groupgate-model-'));
    const modelPath = join(dir, 'demo.gguf');
    modelSize = await writeDemoModel(modelPath);
    server = await startServer(modelPath);
    console.info(`demo GGUF ${modelSize} bytes; load ${server.ready.loadMs} ms`);
  }, 40_000);

  afterAll(async () => {
    await stopServer(server);
    await rm(dir, { recursive: true, force: true });
  });

  const url = () => {
    if (!server) throw new Error('server not started');
    return server.ready.url;
  };

  it('reports loading progress and readiness on stdout', async () => {
    expect(server?.progress.length).toBeGreaterThan(0);
    expect(server?.ready.engine).toBe('demo.gguf');
    expect((await stat(join(dir, 'demo.gguf'))).size).toBe(modelSize);
    expect((await fetch(`${url()}/ping`)).status).toBe(200);
  });

  it('answers InvokeEndpoint with usage counted by the real tokenizer', async () => {
    const client = clientFor(url());
    const started = Date.now();
    const short = await client.invoke(chinese('你好'), { deadline: deadline() });
    const elapsed = Date.now() - started;
    const long = await client.invoke(chinese('请总结一下今天群里关于季度预算和报销流程的讨论，谢谢！'), {
      deadline: deadline(),
    });
    console.info(`${short.usage.completionTokens} tokens in ${elapsed} ms`);
    expect(short.usage.promptTokens).toBeGreaterThan(0);
    expect(long.usage.promptTokens).toBeGreaterThan(short.usage.promptTokens);
    for (const r of [short, long]) {
      expect(r.usage.completionTokens).toBeGreaterThan(0);
      expect(r.usage.completionTokens).toBeLessThanOrEqual(24);
      expect(r.usage.totalTokens).toBe(r.usage.promptTokens + r.usage.completionTokens);
      expect(['stop', 'length']).toContain(r.finishReason);
    }
  });

  it('streams through InvokeEndpointWithResponseStream with deltas, time to first token and usage', async () => {
    const deltas: string[] = [];
    const result = await clientFor(url()).invokeStream(chinese('用一句话介绍你自己 🙂', 32), {
      deadline: deadline(),
      onDelta: (d) => deltas.push(d),
    });
    expect(deltas.length).toBeGreaterThan(0);
    expect(result.content).toBe(deltas.join(''));
    expect(result.timeToFirstTokenMs).toBeGreaterThanOrEqual(0);
    expect(result.usage?.promptTokens).toBeGreaterThan(0);
    expect(result.usage?.completionTokens).toBeGreaterThan(0);
    expect(result.usage?.completionTokens).toBeLessThanOrEqual(32);
  });

  it('serves parallel requests and clamps max_tokens to the server bound', async () => {
    const client = clientFor(url());
    const results = await Promise.all(
      [1, 2, 3].map((i) => client.invoke(chinese(`第${i}个问题`, 500), { deadline: deadline() })),
    );
    for (const r of results) expect(r.usage.completionTokens).toBeLessThanOrEqual(48);
  });

  it('rejects bad requests with 400 (and the SDK client sees a client error)', async () => {
    const res = await fetch(`${url()}/endpoints/${ENDPOINT}/invocations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"messages":[{"role":"tool","content":"x"}]}',
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_request');
    const err = await clientFor(url())
      .invoke({ messages: [], maxTokens: 5, temperature: 0 }, { deadline: deadline() })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelError);
    expect((err as ModelError).reason).toBe('client_error');
  });
});

// The shared real-vocabulary model is optional test data: register its test only when the file is there.
if (existsSync(SHARED_MODEL)) {
  describe('local model server with the shared llama-2-tiny-random GGUF (32k real vocabulary)', () => {
    let server: StartedServer | undefined;
    beforeAll(async () => {
      server = await startServer(SHARED_MODEL);
    }, 40_000);
    afterAll(() => stopServer(server));

    it('counts Chinese and emoji prompt tokens with the real Llama-2 tokenizer and streams an answer', async () => {
      if (!server) throw new Error('server not started');
      const client = clientFor(server.ready.url);
      const plain = await client.invoke(chinese('hello'), { deadline: deadline() });
      const cjk = await client.invokeStream(chinese('你好，世界！🎉 今天开会吗？'), { deadline: deadline() });
      expect(cjk.usage?.promptTokens).toBeGreaterThan(plain.usage.promptTokens);
      expect(cjk.usage?.completionTokens).toBeGreaterThan(0);
    });
  });
} else {
  console.info(`Optional shared model ${SHARED_MODEL} is absent; its extra test is not registered.`);
}
