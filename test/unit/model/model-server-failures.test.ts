import { ModelError } from '#core/errors';
import type { GenerateParams, GenerateResult, ModelEngine } from '#local-model/engine';
import { createRequestLimiter } from '#local-model/request-limiter';
import type { ChatRequest } from '#model/chat-completions';
import { createSageMakerClient } from '#model/sagemaker-client';
import { type RunningModelServer, startModelServer } from '../../../sandbox/model/model-server';

/** A scripted engine: each call takes the next behaviour from the queue. */
type Behaviour = 'ok' | 'fail-before-text' | 'fail-after-text' | 'wait-for-abort';

function scriptedEngine(concurrency: number) {
  const behaviours: Behaviour[] = [];
  let calls = 0;
  const engine: ModelEngine = {
    name: 'scripted',
    concurrency,
    async generate(p: GenerateParams): Promise<GenerateResult> {
      calls++;
      const behaviour = behaviours.shift() ?? 'ok';
      if (behaviour === 'fail-before-text') throw new Error('engine exploded');
      p.onText?.('部分');
      if (behaviour === 'fail-after-text') throw new Error('engine exploded mid-answer');
      if (behaviour === 'wait-for-abort') {
        await new Promise<void>((resolve) => p.signal.addEventListener('abort', () => resolve()));
      }
      return { content: '部分', finishReason: 'stop', promptTokens: 3, completionTokens: 1 };
    },
    async close() {},
  };
  return { engine, behaviours, calls: () => calls };
}

const REQUEST: ChatRequest = { messages: [{ role: 'user', content: '在吗' }], maxTokens: 8, temperature: 0 };

const clientFor = (server: RunningModelServer, maxAttempts = 3) =>
  createSageMakerClient({
    endpointName: 'e',
    endpointUrl: server.url,
    region: 'us-east-1',
    modelId: 'scripted',
    instanceType: 'ml.g4dn.xlarge',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    retry: { maxAttempts },
    sleep: async () => {},
  });

async function reasonOf(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ModelError)) throw new Error(`expected a ModelError, got ${String(err)}`);
  return err.reason;
}

describe('model server failure paths through the SDK client', () => {
  let server: RunningModelServer;
  let scripted: ReturnType<typeof scriptedEngine>;
  let logged: string[];

  beforeEach(async () => {
    scripted = scriptedEngine(1);
    logged = [];
    server = await startModelServer({
      engine: scripted.engine,
      maxQueue: 0,
      logError: (message, err) => logged.push(`${message}: ${(err as Error).message}`),
    });
  });
  afterEach(() => server.close());

  it('an engine failure before any output is a retried 500 (InternalFailure)', async () => {
    scripted.behaviours.push('fail-before-text');
    const result = await clientFor(server).invoke(REQUEST, { deadline: Date.now() + 5_000 });
    expect(result.attempts).toBe(2);
    expect(scripted.calls()).toBe(2);
    expect(logged).toEqual(['[model-server] request failed: engine exploded']);
  });

  it('a failure after streamed output arrives as ModelStreamError and is not retried', async () => {
    scripted.behaviours.push('fail-after-text');
    const deltas: string[] = [];
    const reason = await reasonOf(
      clientFor(server).invokeStream(REQUEST, { deadline: Date.now() + 5_000, onDelta: (d) => deltas.push(d) }),
    );
    expect(reason).toBe('server_error');
    expect(deltas).toEqual(['部分']);
    expect(scripted.calls()).toBe(1);
    expect(logged).toEqual(['[model-server] stream failed: engine exploded mid-answer']);
  });

  it('a stream that fails before its first delta is retried', async () => {
    scripted.behaviours.push('fail-before-text');
    const result = await clientFor(server).invokeStream(REQUEST, { deadline: Date.now() + 5_000 });
    expect(result.content).toBe('部分');
    expect(result.attempts).toBe(2);
  });

  it('a saturated server answers 429, which the client reports as throttled', async () => {
    scripted.behaviours.push('wait-for-abort');
    const holder = clientFor(server, 1).invoke(REQUEST, { deadline: Date.now() + 1_000 });
    await new Promise((r) => setTimeout(r, 100));
    const reason = await reasonOf(clientFor(server, 1).invoke(REQUEST, { deadline: Date.now() + 5_000 }));
    expect(reason).toBe('throttled');
    expect(await reasonOf(holder)).toBe('timeout');
  });

  it('a streaming call past its deadline is a timeout and the server stops generating', async () => {
    scripted.behaviours.push('wait-for-abort');
    const reason = await reasonOf(clientFor(server).invokeStream(REQUEST, { deadline: Date.now() + 300 }));
    expect(reason).toBe('timeout');
    // the aborted generation released its slot: the next call is served
    await new Promise((r) => setTimeout(r, 50));
    expect((await clientFor(server).invoke(REQUEST, { deadline: Date.now() + 5_000 })).content).toBe('部分');
  });
});

describe('createRequestLimiter', () => {
  it('runs up to the concurrency, queues FIFO up to maxQueue, refuses the rest', async () => {
    const limiter = createRequestLimiter(1, 1);
    const first = await limiter.acquire();
    const order: string[] = [];
    const second = limiter.acquire().then((release) => {
      order.push('second');
      return release;
    });
    expect(await limiter.acquire()).toBeUndefined();
    expect(limiter.queued).toBe(1);
    first?.();
    first?.(); // releasing twice must not free two slots
    const secondRelease = await second;
    expect(order).toEqual(['second']);
    expect(limiter.inFlight).toBe(1);
    secondRelease?.();
    expect(limiter.inFlight).toBe(0);
  });
});
