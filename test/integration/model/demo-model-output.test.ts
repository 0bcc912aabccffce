import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { ChatRequest } from '#model/chat-completions';
import { createSageMakerClient } from '#model/sagemaker-client';
import { DEMO_MODEL_MAX_TOKENS, writeDemoModel } from '../../../sandbox/model/demo-model';

/**
 * What the generated demo model writes, by real inference (node-llama-cpp in `server-main.ts`, a child process since
 * node-llama-cpp is ESM-only): only printable text — no NUL, no control character, no U+FFFD from a stray byte, no lone
 * surrogate — whatever the prompt, the sampling temperature or the seed its weights were drawn from; and, as the
 * sandbox serves it by default, answers no longer than DEMO_MODEL_MAX_TOKENS, even when asked for more.
 */
const REPO_ROOT = resolve(__dirname, '../../..');
const ENDPOINT = 'groupgate-llm';
/** Any control character (C0 including newline, DEL, C1), any surrogate code unit left unpaired, U+FFFD. */
const FORBIDDEN = /[\p{Cc}\p{Cs}\uFFFD]/u;

const PROMPTS = [
  'What are the office hours?',
  '你好，请用三句话介绍一下我们的值班制度和请假流程。',
  '🙂🎉 emoji only?',
  // Bytes the vocabulary has only as byte-fallback tokens: the prompt may hold them, the answer may not.
  'tab\there, bell \u0007, escape \u001b[31m, and é ß Ж',
  'x',
];
const TEMPERATURES = [0, 0.3, 1, 2];

interface Server {
  readonly url: string;
  stop(): Promise<void>;
}

/** Starts `server-main.ts` with `env` (no MODEL_PATH: the sandbox's default, generated demo model). */
function startServer(env: Record<string, string>): Promise<Server> {
  const child: ChildProcessWithoutNullStreams = spawn(
    process.execPath,
    ['--import', 'tsx', 'sandbox/model/server-main.ts'],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, MODEL_ENDPOINT_NAME: ENDPOINT, MODEL_THREADS: '1', MODEL_CONTEXT_SIZE: '1024', ...env },
    },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString('utf8');
  });
  const stop = () =>
    new Promise<void>((done) => {
      if (child.exitCode !== null || child.signalCode !== null) return done();
      child.once('exit', () => done());
      child.kill('SIGTERM');
    });
  return new Promise((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error(`model server not ready in 30 s; stderr:\n${stderr}`)), 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`model server exited with ${code}; stderr:\n${stderr}`));
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      const msg = JSON.parse(line) as { event: string; url?: string };
      if (msg.event !== 'ready' || !msg.url) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      resolveReady({ url: msg.url, stop });
    });
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

const request = (prompt: string, temperature: number, maxTokens: number): ChatRequest => ({
  messages: [
    { role: 'system', content: 'You are GroupGate, a helpful assistant in a team group chat.' },
    { role: 'user', content: prompt },
  ],
  maxTokens,
  temperature,
});
const deadline = () => Date.now() + 20_000;

/** The forbidden code points of `text`, as U+XXXX, for a readable failure. */
const forbiddenIn = (text: string): string[] =>
  [...text].filter((c) => FORBIDDEN.test(c)).map((c) => `U+${(c.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`);

describe('the default demo model as the sandbox serves it', () => {
  let server: Server | undefined;
  beforeAll(async () => {
    server = await startServer({});
  }, 40_000);
  afterAll(() => server?.stop());
  const url = () => {
    if (!server) throw new Error('server not started');
    return server.url;
  };

  it('answers every prompt at every temperature with printable text of at most DEMO_MODEL_MAX_TOKENS tokens', async () => {
    const client = clientFor(url());
    const answers: { prompt: string; temperature: number; content: string; tokens: number; finish: string }[] = [];
    for (const prompt of PROMPTS) {
      for (const temperature of TEMPERATURES) {
        // 512: what the worker asks for by default (MODEL_MAX_TOKENS), far more than the demo model answers.
        const one = await client.invoke(request(prompt, temperature, 512), { deadline: deadline() });
        answers.push({
          prompt,
          temperature,
          content: one.content,
          tokens: one.usage.completionTokens,
          finish: one.finishReason,
        });
      }
    }
    expect(answers.filter((a) => forbiddenIn(a.content).length > 0)).toEqual([]);
    expect(answers.filter((a) => a.tokens > DEMO_MODEL_MAX_TOKENS)).toEqual([]);
    // The cap is what ends most answers: the random network rarely picks an end token.
    expect(answers.filter((a) => a.finish === 'length' && a.tokens === DEMO_MODEL_MAX_TOKENS).length).toBeGreaterThan(
      answers.length / 2,
    );
    expect(answers.filter((a) => a.content.trim().length > 0).length).toBeGreaterThan(answers.length / 2);
  }, 120_000);

  it('streams printable deltas too, each one whole characters', async () => {
    const client = clientFor(url());
    for (const [i, prompt] of PROMPTS.entries()) {
      const deltas: string[] = [];
      const result = await client.invokeStream(request(prompt, TEMPERATURES[i % TEMPERATURES.length] ?? 1, 512), {
        deadline: deadline(),
        onDelta: (d) => deltas.push(d),
      });
      expect({ prompt, forbidden: deltas.flatMap(forbiddenIn) }).toEqual({ prompt, forbidden: [] });
      expect(result.content).toBe(deltas.join(''));
      expect(result.usage?.completionTokens).toBeLessThanOrEqual(DEMO_MODEL_MAX_TOKENS);
    }
  }, 60_000);

  it('keeps a request that omits max_tokens within the cap', async () => {
    const res = await fetch(`${url()}/endpoints/${ENDPOINT}/invocations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'Tell me everything.' }], temperature: 1 }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { usage: { completion_tokens: number } };
    expect(body.usage.completion_tokens).toBeLessThanOrEqual(DEMO_MODEL_MAX_TOKENS);
  }, 30_000);
});

describe.each([1, 20_260_101])('the demo model generated from seed %i', (seed) => {
  let dir: string;
  let server: Server | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'groupgate-demo-seed-'));
    const modelPath = join(dir, 'demo.gguf');
    await writeDemoModel(modelPath, seed);
    // An explicit model path: no demo cap, so longer answers give stray tokens more chances to show.
    server = await startServer({ MODEL_PATH: modelPath, MODEL_MAX_TOKENS: '128' });
  }, 40_000);
  afterAll(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('writes only printable text, at the highest temperature the server accepts too', async () => {
    if (!server) throw new Error('server not started');
    const client = clientFor(server.url);
    const forbidden: { prompt: string; temperature: number; found: string[] }[] = [];
    let tokens = 0;
    for (const prompt of PROMPTS) {
      for (const temperature of [1, 2]) {
        const answer = await client.invoke(request(prompt, temperature, 128), { deadline: deadline() });
        tokens += answer.usage.completionTokens;
        const found = forbiddenIn(answer.content);
        if (found.length > 0) forbidden.push({ prompt, temperature, found });
      }
    }
    expect(forbidden).toEqual([]);
    // Enough sampled tokens that the old vocabulary (every answer held control bytes or U+FFFD) could not pass.
    expect(tokens).toBeGreaterThan(500);
  }, 120_000);
});
