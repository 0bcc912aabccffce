import type { Embedder } from '#knowledge/embeddings/embedder';
import { createHashingEmbedder } from '#knowledge/embeddings/hashing-embedder';
import { createOpenAiEmbedder, type OpenAiEmbedderOptions } from '#knowledge/embeddings/openai-embedder';
import { dot } from '#knowledge/embeddings/vector';
import {
  MAX_BODY_BYTES,
  MAX_INPUT_CHARS,
  MAX_INPUTS,
  type RunningEmbeddingServer,
  startEmbeddingServer,
} from '../../../sandbox/knowledge/embedding-server';

/**
 * The sandbox's OpenAI-compatible embedding server driven over real HTTP by the knowledge base's own client
 * (`createOpenAiEmbedder`), as ingestion and questions use it in the sandbox; then the server's request contract
 * with raw `fetch`. Failure modes a real server cannot be made to show (429, hangs, wrong counts) are in
 * test/unit/knowledge/embeddings/openai-embedder.test.ts against scripted servers.
 */

/** The hashing embedder, recording the size of each batch the server passed it; `failFirst` calls throw. */
function recordingEmbedder(failFirst = 0): Embedder & { batches: number[] } {
  const inner = createHashingEmbedder();
  const batches: number[] = [];
  let failures = failFirst;
  return {
    model: inner.model,
    dimensions: inner.dimensions,
    batches,
    async embed(texts, purpose, options) {
      batches.push(texts.length);
      if (failures-- > 0) throw new Error('GPU fell off the bus');
      return inner.embed(texts, purpose, options);
    },
  };
}

/** `fetch` that counts the requests it sends. */
function countingFetch(): { fetch: typeof fetch; count: () => number } {
  let count = 0;
  return {
    fetch: (input, init) => {
      count++;
      return fetch(input, init);
    },
    count: () => count,
  };
}

const post = (server: RunningEmbeddingServer, body: unknown, path = '/v1/embeddings') =>
  fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

interface OpenAiError {
  error: { message: string; type: string; param: string | null };
}

describe('embedding server + OpenAI-compatible embedder (hashing model)', () => {
  let server: RunningEmbeddingServer;
  let backend: ReturnType<typeof recordingEmbedder>;
  const client = (extra: Partial<OpenAiEmbedderOptions> = {}) =>
    createOpenAiEmbedder({ baseUrl: server.url, model: server.model, dimensions: server.dimensions, ...extra });

  beforeAll(async () => {
    backend = recordingEmbedder();
    server = await startEmbeddingServer({ embedder: backend });
  });
  afterAll(() => server.stop());
  beforeEach(() => backend.batches.splice(0));

  it('serves the hashing model under its name and size', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.model).toBe('groupgate-hashing-v1');
    expect(server.dimensions).toBe(256);
  });

  it('embeds 150 texts in 3 requests of at most 64, in order, as the hashing embedder itself does', async () => {
    const counter = countingFetch();
    const texts = Array.from({ length: 150 }, (_, i) => `chunk ${i} about deploying stack number ${i * 7}`);
    const vectors = await client({ maxBatch: 64, fetch: counter.fetch }).embed(texts, 'document');
    expect(counter.count()).toBe(3);
    expect(backend.batches).toEqual([64, 64, 22]);
    expect(vectors).toHaveLength(150);
    expect(vectors).toEqual(await createHashingEmbedder().embed(texts, 'document'));
  });

  it('is deterministic and returns unit vectors (zero for an empty text)', async () => {
    const texts = ['How do I deploy?', '如何配置报销流程', ''];
    const first = await client().embed(texts, 'query');
    const second = await client().embed(texts, 'query');
    expect(second).toEqual(first);
    expect(dot(first[0]!, first[0]!)).toBeCloseTo(1, 5);
    expect(dot(first[1]!, first[1]!)).toBeCloseTo(1, 5);
    expect(Array.from(first[2]!).every((x) => x === 0)).toBe(true);
  });

  it('puts deploy / deployment / deploying closer to each other than to invoice', async () => {
    const [deploy, deployment, deploying, invoice] = await client().embed(
      ['deploy', 'deployment', 'deploying', 'invoice'],
      'document',
    );
    const within = [dot(deploy!, deployment!), dot(deploy!, deploying!), dot(deployment!, deploying!)];
    const across = [dot(deploy!, invoice!), dot(deployment!, invoice!), dot(deploying!, invoice!)];
    expect(Math.min(...within)).toBeGreaterThan(Math.max(...across));
  });

  it('gives a Chinese text similarity with its bigram-overlapping variant', async () => {
    const [question, variant, unrelated] = await client().embed(
      ['报销流程怎么配置', '如何配置报销流程', '今天天气很好'],
      'query',
    );
    expect(dot(question!, variant!)).toBeGreaterThan(0.3);
    expect(dot(question!, variant!)).toBeGreaterThan(dot(question!, unrelated!));
  });

  it('retries a 500 from a failing embedder and then succeeds', async () => {
    const flaky = recordingEmbedder(1);
    const flakyServer = await startEmbeddingServer({ embedder: flaky });
    try {
      const counter = countingFetch();
      const embedder = createOpenAiEmbedder({
        baseUrl: flakyServer.url,
        model: flakyServer.model,
        dimensions: flakyServer.dimensions,
        fetch: counter.fetch,
      });
      await expect(embedder.embed(['deploy'], 'document')).resolves.toHaveLength(1);
      expect(counter.count()).toBe(2);
      expect(flaky.batches).toEqual([1, 1]);
    } finally {
      await flakyServer.stop();
    }
  });

  it('answers 500 with an OpenAI-style error, which the client reports as unavailable after its retries', async () => {
    const broken = await startEmbeddingServer({ embedder: recordingEmbedder(Number.POSITIVE_INFINITY) });
    try {
      const raw = await post(broken, { input: ['x'] });
      expect(raw.status).toBe(500);
      expect(((await raw.json()) as OpenAiError).error).toMatchObject({
        type: 'server_error',
        message: expect.stringContaining('GPU fell off the bus'),
      });
      const embedder = createOpenAiEmbedder({
        baseUrl: broken.url,
        model: broken.model,
        dimensions: broken.dimensions,
        maxAttempts: 2,
      });
      await expect(embedder.embed(['x'], 'document')).rejects.toMatchObject({ code: 'unavailable' });
    } finally {
      await broken.stop();
    }
  });

  it('is a dimensions error for a client configured with another size', async () => {
    await expect(client({ dimensions: 384 }).embed(['x'], 'document')).rejects.toMatchObject({ code: 'dimensions' });
  });

  it('is a too_long error when the client sends more than the server takes', async () => {
    const long = 'a'.repeat(MAX_INPUT_CHARS + 1);
    await expect(client({ maxChars: 100_000 }).embed([long], 'document')).rejects.toMatchObject({ code: 'too_long' });
  });

  it('aborts a call via the caller’s signal', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(client().embed(['x'], 'query', { signal: controller.signal })).rejects.toMatchObject({
      code: 'timeout',
    });
  });

  it('answers the OpenAI shape, a single string input, and base64 vectors equal to the float ones', async () => {
    const asFloat = await post(server, { model: server.model, input: 'deploy the stack' });
    expect(asFloat.status).toBe(200);
    const floatBody = (await asFloat.json()) as {
      object: string;
      model: string;
      data: { object: string; index: number; embedding: number[] }[];
      usage: { prompt_tokens: number; total_tokens: number };
    };
    expect(floatBody).toMatchObject({ object: 'list', model: server.model, usage: { prompt_tokens: 2 } });
    expect(floatBody.data).toHaveLength(1);
    expect(floatBody.data[0]).toMatchObject({ object: 'embedding', index: 0 });
    expect(floatBody.data[0]?.embedding).toHaveLength(256);

    const asBase64 = await post(server, { input: ['deploy the stack'], encoding_format: 'base64' });
    const base64Body = (await asBase64.json()) as { data: { embedding: string }[] };
    const bytes = Buffer.from(base64Body.data[0]?.embedding ?? '', 'base64');
    const decoded = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    expect(Array.from(decoded)).toEqual(floatBody.data[0]?.embedding);
  });
});

describe('embedding server: request validation', () => {
  let server: RunningEmbeddingServer;

  beforeAll(async () => {
    server = await startEmbeddingServer({ model: 'bge-m3-sandbox' });
  });
  afterAll(() => server.stop());

  const refusal = async (res: Response, status: number, message: RegExp) => {
    expect(res.status).toBe(status);
    const body = (await res.json()) as OpenAiError;
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.message).toMatch(message);
    return body.error;
  };

  it('serves under the configured model name and accepts requests naming it', async () => {
    expect(server.model).toBe('bge-m3-sandbox');
    const res = await post(server, { model: 'bge-m3-sandbox', input: ['x'] });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { model: string }).model).toBe('bge-m3-sandbox');
  });

  it.each([
    ['bad JSON', '{"input": [', /not valid JSON/],
    ['a non-object body', '[1, 2]', /JSON object/],
    ['missing input', { model: 'bge-m3-sandbox' }, /'input' is required/],
    ['an empty input array', { model: 'bge-m3-sandbox', input: [] }, /must not be an empty array/],
    ['token arrays', { model: 'bge-m3-sandbox', input: [[1, 2, 3]] }, /token arrays are not supported/],
    ['a number input', { model: 'bge-m3-sandbox', input: 42 }, /Invalid request \('input'\)/],
    ['a wrong model', { model: 'text-embedding-3-small', input: ['x'] }, /'text-embedding-3-small'.*'bge-m3-sandbox'/],
    ['no model when one is configured', { input: ['x'] }, /names no model/],
    ['an unknown encoding', { model: 'bge-m3-sandbox', input: ['x'], encoding_format: 'int8' }, /encoding_format/],
    ['other dimensions', { model: 'bge-m3-sandbox', input: ['x'], dimensions: 1024 }, /'dimensions' is 1024/],
    [
      `more than ${MAX_INPUTS} inputs`,
      { model: 'bge-m3-sandbox', input: Array.from({ length: MAX_INPUTS + 1 }, () => 'x') },
      /2049 items; at most 2048/,
    ],
    [
      `an input over ${MAX_INPUT_CHARS} characters`,
      { model: 'bge-m3-sandbox', input: ['ok', 'a'.repeat(MAX_INPUT_CHARS + 1)] },
      /'input\[1\]' is too long: 32769 characters/,
    ],
  ])('refuses %s with 400', async (_, body, message) => {
    await refusal(await post(server, body), 400, message);
  });

  it('takes exactly the limits', async () => {
    const res = await post(server, {
      model: 'bge-m3-sandbox',
      input: ['a'.repeat(MAX_INPUT_CHARS), ...Array.from({ length: MAX_INPUTS - 1 }, () => 'x')],
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { data: unknown[] }).data).toHaveLength(MAX_INPUTS);
  });

  it('refuses a body over 1 MiB with 413', async () => {
    const body = JSON.stringify({ model: 'bge-m3-sandbox', input: ['x'.repeat(MAX_BODY_BYTES)] });
    await refusal(await post(server, body), 413, /over 1048576 bytes/);
  });

  it('answers 404 for other routes and 405 for other methods', async () => {
    await refusal(await post(server, { input: ['x'] }, '/v1/chat/completions'), 404, /Invalid URL/);
    await refusal(await post(server, { input: ['x'] }, '/embeddings'), 404, /POST \/v1\/embeddings/);
    const get = await fetch(`${server.url}/v1/embeddings`);
    expect(get.headers.get('allow')).toBe('POST');
    await refusal(get, 405, /use POST/);
  });

  it('is rejected (not retried) when the client names another model', async () => {
    const counter = countingFetch();
    const embedder = createOpenAiEmbedder({
      baseUrl: server.url,
      model: 'other-model',
      dimensions: server.dimensions,
      fetch: counter.fetch,
    });
    await expect(embedder.embed(['x'], 'document')).rejects.toMatchObject({
      code: 'rejected',
      message: expect.stringContaining("this server serves 'bge-m3-sandbox'"),
    });
    expect(counter.count()).toBe(1);
  });
});
