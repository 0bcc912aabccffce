import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FALLBACK_FUNCTION_ENV as F } from '#config/fallback-function-config';
import { lambdaUsageOf } from '#core/cost/model-billing';
import { ModelError } from '#core/errors';
import type { ChatRequest } from '#model/chat-completions';
import { createFallbackClient } from '#model/fallback-client';
import { DEMO_MODEL_MAX_TOKENS, writeDemoModel } from '../../../sandbox/model/demo-model';
import {
  bundleFallbackFunction,
  type FallbackFunctionBundle,
  type RunningFallbackFunction,
  startFallbackFunction,
} from '../../../sandbox/model/fallback-function';
import { startWeightsS3StandIn, type WeightsS3StandIn } from '../../../sandbox/model/weights-s3-stand-in';

/**
 * The fallback function as deployed: `functions/handlers/fallback-model.ts` bundled with the stack's esbuild options
 * (node-llama-cpp external, resolved from node_modules as the function ships it), in a fresh Node process behind a
 * function-URL stand-in that hands it payload-2.0 events and the `awslambda` streaming global. Its weights come from
 * a local S3 stand-in (signed range GETs into its /tmp); the worker's real fallback client calls it.
 */
const ROOT = path.resolve(__dirname, '../../..');
const BUCKET = 'groupgate-models';
const KEY = 'fallback/groupgate-demo.gguf';
const ENDPOINT = 'groupgate-fallback';
const MEMORY_MB = 3008;

let dir: string;
let modelFile: string;
let built: FallbackFunctionBundle;
let s3: WeightsS3StandIn;
let fn: RunningFallbackFunction;

const functionEnv = (overrides: Record<string, string> = {}): Record<string, string> => ({
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'secret',
  AWS_SESSION_TOKEN: 'session',
  AWS_ENDPOINT_URL_S3: s3.url,
  AWS_LAMBDA_FUNCTION_NAME: 'fallback-model',
  POWERTOOLS_SERVICE_NAME: 'fallback-model',
  [F.weightsS3Uri]: `s3://${BUCKET}/${KEY}`,
  [F.weightsDir]: path.join(dir, 'tmp'),
  [F.contextSize]: '1024',
  [F.maxTokens]: String(DEMO_MODEL_MAX_TOKENS),
  [F.endpointName]: ENDPOINT,
  ...overrides,
});

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'fallback-fn-'));
  mkdirSync(path.join(dir, 'tmp'));
  mkdirSync(path.join(dir, 'fn'));
  modelFile = path.join(dir, 'demo.gguf');
  await writeDemoModel(modelFile);
  s3 = await startWeightsS3StandIn({ objects: [{ bucket: BUCKET, key: KEY, file: modelFile }] });
  built = await bundleFallbackFunction(ROOT, path.join(dir, 'fn'));
  fn = await startFallbackFunction(built, functionEnv());
}, 60_000);

afterAll(async () => {
  await fn?.close();
  await s3?.close();
  rmSync(dir, { recursive: true, force: true });
});

const client = (endpointName = ENDPOINT) =>
  createFallbackClient({
    endpointUrl: fn.url,
    endpointName,
    region: 'us-east-1',
    modelId: 'fallback-cpu',
    memoryMb: MEMORY_MB,
    timeoutMs: 20_000,
  });

const REQUEST: ChatRequest = {
  messages: [
    { role: 'system', content: 'You are the company assistant.' },
    { role: 'user', content: '报销流程是什么？How do I file an expense report?' },
  ],
  maxTokens: 200,
  temperature: 0,
};

beforeAll(() => {
  // The worker's client signs with the default credential chain.
  process.env.AWS_ACCESS_KEY_ID = 'AKIDEXAMPLE';
  process.env.AWS_SECRET_ACCESS_KEY = 'secret';
});

describe('the bundled fallback function behind a function URL', () => {
  it('is a CommonJS bundle that leaves node-llama-cpp to node_modules', () => {
    expect(built.bundleBytes).toBeGreaterThan(10_000);
    expect(statSync(built.bundle).isFile()).toBe(true);
  });

  it('answers InvokeEndpoint through the worker’s fallback client, billed as Lambda time', async () => {
    const result = await client().invoke(REQUEST, { deadline: Date.now() + 30_000 });
    expect(result.content.length).toBeGreaterThan(0);
    expect(result.modelId).toBe('fallback-cpu');
    expect(result.usage.promptTokens).toBeGreaterThan(10);
    // Asked for 200, clamped to the function's FALLBACK_MAX_TOKENS.
    expect(result.usage.completionTokens).toBeGreaterThan(0);
    expect(result.usage.completionTokens).toBeLessThanOrEqual(DEMO_MODEL_MAX_TOKENS);
    expect(result.usage.totalTokens).toBe(result.usage.promptTokens + result.usage.completionTokens);
    expect(result.billing).toEqual({ kind: 'lambda', memoryMb: MEMORY_MB, architecture: 'arm64' });
    expect(lambdaUsageOf(result)).toEqual([
      { fn: 'model', memoryMb: MEMORY_MB, billedMs: Math.max(1, Math.ceil(result.latencyMs)), arch: 'arm64' },
    ]);
  }, 30_000);

  it('streams the answer as event-stream frames the SDK decodes, with usage', async () => {
    const deltas: string[] = [];
    const result = await client().invokeStream(REQUEST, {
      deadline: Date.now() + 30_000,
      onDelta: (d) => deltas.push(d),
    });
    expect(deltas.length).toBeGreaterThan(0);
    expect(deltas.join('')).toBe(result.content);
    expect(result.usage?.completionTokens).toBeGreaterThan(0);
    expect(result.usage?.completionTokens).toBeLessThanOrEqual(DEMO_MODEL_MAX_TOKENS);
    expect(result.timeToFirstTokenMs).toBeGreaterThanOrEqual(0);
    expect(result.billing).toEqual({ kind: 'lambda', memoryMb: MEMORY_MB, architecture: 'arm64' });
  }, 30_000);

  it('downloaded its weights from S3 with signed range GETs and logged the load', async () => {
    const loaded = await fn.waitForLog('fallback model loaded', 1_000);
    expect(loaded).toMatchObject({
      level: 'INFO',
      service: 'fallback-model',
      downloaded: true,
      weightsBytes: statSync(modelFile).size,
      modelPath: path.join(dir, 'tmp', 'groupgate-demo.gguf'),
      threads: os.availableParallelism(),
      contextSize: 1024,
    });
    expect(loaded.loadMs).toEqual(expect.any(Number));
    const gets = s3.requests.filter((r) => r.method === 'GET');
    expect(gets.length).toBe(loaded.ranges);
    for (const r of s3.requests) expect(r.authorization).toMatch(/\/us-east-1\/s3\/aws4_request, /);
  });

  it('answers another endpoint name as SageMaker does (ValidationError), not retried', async () => {
    const err = await client('someone-else')
      .invoke(REQUEST, { deadline: Date.now() + 10_000 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelError);
    expect((err as ModelError).reason).toBe('client_error');
    expect((err as ModelError).message).toContain('Endpoint someone-else not found.');
  });

  it('answers the keep-warm invocation with nothing, its model loaded, and no second download', async () => {
    const gets = s3.requests.length;
    const res = await invokeDirect(fn.url, { warmUp: true });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
    expect(await fn.waitForLog('fallback model kept warm', 2_000)).toMatchObject({ level: 'INFO', ready: true });
    expect(s3.requests.length).toBe(gets);
  });

  it('is refused unsigned, as a function URL with AWS_IAM auth refuses it', async () => {
    const res = await fetch(`${fn.url}/endpoints/${ENDPOINT}/invocations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(403);
  });
});

/** A direct Invoke with `event` as its payload, as the stack's keep-warm EventBridge rule makes. */
const invokeDirect = (url: string, event: object): Promise<Response> =>
  fetch(`${url}/2015-03-31/functions/fallback-model/invocations`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      // The stand-in checks that a request is signed, not the signature.
      authorization:
        'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=0',
    },
    body: JSON.stringify(event),
  });

describe('a fallback function whose weights cannot be read', () => {
  let broken: RunningFallbackFunction;
  beforeAll(async () => {
    broken = await startFallbackFunction(
      built,
      functionEnv({ [F.weightsS3Uri]: `s3://${BUCKET}/fallback/missing.gguf` }),
    );
  }, 30_000);
  afterAll(() => broken?.close());

  const missing = () => s3.requests.filter((r) => r.object === `${BUCKET}/fallback/missing.gguf`);
  const failures = () => broken.lines.filter((l) => l.message === 'fallback model failed to load');

  it('answers 503 ServiceUnavailable, which the worker sees as a server error, and logs why', async () => {
    const err = await createFallbackClient({
      endpointUrl: broken.url,
      endpointName: ENDPOINT,
      region: 'us-east-1',
      modelId: 'fallback-cpu',
      memoryMb: MEMORY_MB,
      timeoutMs: 5_000,
      sleep: async () => {},
    })
      .invoke(REQUEST, { deadline: Date.now() + 5_000 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelError);
    expect((err as ModelError).reason).toBe('server_error');
    expect((err as ModelError).message).toContain('The fallback model could not be loaded; see the function log.');
    const logged = await broken.waitForLog('fallback model failed to load', 2_000);
    expect(logged).toMatchObject({ level: 'ERROR' });
    expect(JSON.stringify(logged.error)).toContain('no such object (404)');
  });

  it('answers the raw 503 in SageMaker’s error shape, and tries the load again at each request', async () => {
    const before = { heads: missing().length, failures: failures().length };
    const res = await fetch(`${broken.url}/endpoints/${ENDPOINT}/invocations`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        // The stand-in checks that a request is signed, not the signature.
        authorization:
          'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=0',
      },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(503);
    expect(res.headers.get('x-amzn-errortype')).toBe('ServiceUnavailable');
    expect(await res.json()).toEqual({
      message: 'The fallback model could not be loaded; see the function log.',
      error: { code: 'model_not_ready', message: 'The fallback model could not be loaded; see the function log.' },
    });
    expect(missing().length).toBe(before.heads + 1);
    await broken.waitForLog('fallback model failed to load', 1_000);
    await new Promise((r) => setTimeout(r, 100));
    expect(failures().length).toBe(before.failures + 1);
  });

  it('keeps warm by trying the load again, logging that it is not ready instead of failing the schedule', async () => {
    const before = failures().length;
    const res = await invokeDirect(broken.url, { warmUp: true });
    expect(res.status).toBe(200);
    expect(await broken.waitForLog('fallback model kept warm', 2_000)).toMatchObject({ ready: false });
    expect(failures().length).toBe(before + 1);
  });
});
