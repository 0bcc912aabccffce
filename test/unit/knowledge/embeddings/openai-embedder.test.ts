import { ConfigError } from '#core/errors';
import { EmbeddingError } from '#knowledge/embeddings/embedder';
import { createOpenAiEmbedder, type OpenAiEmbedderOptions } from '#knowledge/embeddings/openai-embedder';
import {
  type RecordedRequest,
  startTestServer,
  type TestResponse,
  type TestServer,
} from '../../../helpers/http-test-server';

/**
 * `createOpenAiEmbedder` against scripted OpenAI-compatible servers over real sockets and Node's real `fetch`: each
 * request takes the next reply from `script` (or waits forever on 'hang'). The happy path against the sandbox's real
 * embedding server is in test/integration/knowledge/embedding-server.test.ts.
 */
type Reply = TestResponse | 'hang';

const KEY = 'sk-embed-0123456789abcdef';
const DIMS = 3;

let server: TestServer;
let script: Reply[];
const received = (): readonly RecordedRequest[] => server.requests;
const bodyOf = (request: RecordedRequest | undefined) =>
  JSON.parse(request?.body.toString('utf8') ?? 'null') as { model: string; input: string[]; encoding_format: string };

/** A valid answer for `count` inputs: input i gets the vector [i + 1, 0, 0], with `extra` changes. */
const vectors = (count: number, dims = DIMS) =>
  Array.from({ length: count }, (_, i) => ({
    index: i,
    embedding: Array.from({ length: dims }, (_, d) => (d === 0 ? i + 1 : 0)),
  }));
const ok = (data: unknown): TestResponse => ({ statusCode: 200, body: JSON.stringify({ object: 'list', data }) });

beforeEach(async () => {
  script = [];
  server = await startTestServer(async () => {
    const next = script.shift() ?? { statusCode: 500, body: '{"error":{"message":"unscripted"}}' };
    if (next === 'hang') return new Promise<TestResponse>(() => undefined);
    return next;
  });
});

afterEach(() => server.close());

const embedder = (extra: Partial<OpenAiEmbedderOptions> = {}) =>
  createOpenAiEmbedder({ baseUrl: server.url, model: 'bge-m3', dimensions: DIMS, ...extra });

const failureOf = async (promise: Promise<unknown>): Promise<EmbeddingError> => {
  try {
    await promise;
  } catch (err) {
    if (err instanceof EmbeddingError) return err;
    throw err;
  }
  throw new Error('expected an EmbeddingError');
};

describe('createOpenAiEmbedder: the request', () => {
  it('posts { model, input, encoding_format: float } to /v1/embeddings with the bearer key', async () => {
    script.push(ok(vectors(2)));
    const e = embedder({ apiKey: async () => KEY });
    expect(e.model).toBe('bge-m3');
    expect(e.dimensions).toBe(DIMS);
    await e.embed(['first', 'second'], 'document');
    const [request] = received();
    expect(request?.method).toBe('POST');
    expect(request?.path).toBe('/v1/embeddings');
    expect(request?.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(request?.headers['content-type']).toBe('application/json');
    expect(bodyOf(request)).toEqual({ model: 'bge-m3', input: ['first', 'second'], encoding_format: 'float' });
  });

  it('accepts a baseUrl that already ends in /v1 (as the chat model’s does) without doubling it', async () => {
    script.push(ok(vectors(1)));
    await embedder({ baseUrl: `${server.url}/v1/` }).embed(['x'], 'query');
    expect(received()[0]?.path).toBe('/v1/embeddings');
  });

  it('sends no Authorization header without a key (or with an empty one)', async () => {
    script.push(ok(vectors(1)), ok(vectors(1)));
    await embedder().embed(['x'], 'query');
    await embedder({ apiKey: async () => '' }).embed(['x'], 'query');
    expect(received().map((r) => r.headers.authorization)).toEqual([undefined, undefined]);
  });

  it('prefixes queries and documents as configured and cuts inputs at maxChars', async () => {
    script.push(ok(vectors(1)), ok(vectors(2)));
    const e = embedder({ queryPrefix: 'query: ', documentPrefix: 'passage: ', maxChars: 12 });
    await e.embed(['how to deploy'], 'query');
    await e.embed(['deploy guide', ''], 'document');
    expect(bodyOf(received()[0]).input).toEqual(['query: how t']);
    expect(bodyOf(received()[1]).input).toEqual(['passage: dep', 'passage: ']);
  });

  it('makes no request for no texts', async () => {
    await expect(embedder().embed([], 'document')).resolves.toEqual([]);
    expect(received()).toHaveLength(0);
  });
});

describe('createOpenAiEmbedder: the response', () => {
  it('orders vectors by index and normalises them', async () => {
    script.push(
      ok([
        { index: 1, embedding: [0, 3, 4] },
        { index: 0, embedding: [2, 0, 0] },
      ]),
    );
    const [first, second] = await embedder().embed(['a', 'b'], 'document');
    expect(Array.from(first ?? [])).toEqual([1, 0, 0]);
    expect(Array.from(second ?? [])).toEqual([0, expect.closeTo(0.6, 6), expect.closeTo(0.8, 6)]);
  });

  it('is bad_response when the count differs from the inputs', async () => {
    script.push(ok(vectors(1)));
    const error = await failureOf(embedder().embed(['a', 'b'], 'document'));
    expect(error.code).toBe('bad_response');
    expect(error.message).toMatch(/1 embeddings for 2 inputs/);
  });

  it('is bad_response when indices repeat', async () => {
    script.push(ok([vectors(1)[0], vectors(1)[0]]));
    expect((await failureOf(embedder().embed(['a', 'b'], 'document'))).code).toBe('bad_response');
  });

  it('is dimensions when a vector has another length (another model deployed)', async () => {
    script.push(ok(vectors(2, 4)));
    const error = await failureOf(embedder().embed(['a', 'b'], 'document'));
    expect(error.code).toBe('dimensions');
    expect(error.message).toMatch(/4 dimensions for input 0, but 3 are configured/);
  });

  it.each([
    ['not JSON', '<html>oops</html>'],
    ['no data', '{"object":"list"}'],
    ['a string vector', '{"data":[{"index":0,"embedding":"AAAA"}]}'],
    ['a non-number', '{"data":[{"index":0,"embedding":[1,"x",0]}]}'],
    ['an infinite number', '{"data":[{"index":0,"embedding":[1e999,0,0]}]}'],
    ['a negative index', '{"data":[{"index":-1,"embedding":[1,0,0]}]}'],
  ])('is bad_response for %s', async (_, body) => {
    script.push({ statusCode: 200, body });
    expect((await failureOf(embedder().embed(['a'], 'document'))).code).toBe('bad_response');
  });
});

describe('createOpenAiEmbedder: failures and retries', () => {
  it('retries a 500 and succeeds', async () => {
    script.push({ statusCode: 500, body: '{"error":{"message":"CUDA out of memory"}}' }, ok(vectors(1)));
    await expect(embedder().embed(['a'], 'document')).resolves.toHaveLength(1);
    expect(received()).toHaveLength(2);
  });

  it('is unavailable once maxAttempts 5xx have been answered, with the server message', async () => {
    script.push(...Array.from({ length: 3 }, () => ({ statusCode: 503, body: '{"error":"model loading"}' })));
    const error = await failureOf(embedder().embed(['a'], 'document'));
    expect(error.code).toBe('unavailable');
    expect(error.message).toMatch(/HTTP 503\): model loading/);
    expect(received()).toHaveLength(3);
  });

  it('waits out a 429 with Retry-After and succeeds', async () => {
    script.push({ statusCode: 429, headers: { 'retry-after': '1' }, body: '{"error":"slow down"}' }, ok(vectors(1)));
    await expect(embedder().embed(['a'], 'document')).resolves.toHaveLength(1);
    expect(received()).toHaveLength(2);
  });

  it('is throttled at once when Retry-After asks for more than 5 s', async () => {
    script.push({ statusCode: 429, headers: { 'retry-after': '60' }, body: '{"error":"quota"}' });
    const error = await failureOf(embedder().embed(['a'], 'document'));
    expect(error.code).toBe('throttled');
    expect(error.message).toMatch(/retry after 60 s, longer than the 5 s/);
    expect(received()).toHaveLength(1);
  });

  it('is throttled when every attempt is throttled', async () => {
    script.push(...Array.from({ length: 2 }, () => ({ statusCode: 429, body: '' })));
    expect((await failureOf(embedder({ maxAttempts: 2 }).embed(['a'], 'document'))).code).toBe('throttled');
    expect(received()).toHaveLength(2);
  });

  it('is timeout for a server that hangs, without retrying it', async () => {
    script.push('hang');
    const error = await failureOf(embedder({ timeoutMs: 200 }).embed(['a'], 'document'));
    expect(error.code).toBe('timeout');
    expect(error.message).toMatch(/did not answer within 200 ms/);
    expect(received()).toHaveLength(1);
  });

  it('is rejected on 401 without retrying and without the key, even when the server echoes it', async () => {
    script.push({ statusCode: 401, body: JSON.stringify({ error: { message: `bad key ${KEY}` } }) });
    const error = await failureOf(embedder({ apiKey: async () => KEY }).embed(['a'], 'document'));
    expect(error.code).toBe('rejected');
    expect(error.message).toMatch(/refused the API key \(HTTP 401\)/);
    expect(error.message).not.toContain(KEY);
    expect(received()).toHaveLength(1);
  });

  it('redacts the key from other error messages too', async () => {
    script.push({ statusCode: 400, body: JSON.stringify({ error: { message: `unknown model for ${KEY}` } }) });
    const error = await failureOf(embedder({ apiKey: async () => KEY }).embed(['a'], 'document'));
    expect(error.code).toBe('rejected');
    expect(error.message).toContain('[redacted]');
    expect(error.message).not.toContain(KEY);
  });

  it.each([
    [400, '{"object":"error","message":"This model\'s maximum context length is 512 tokens."}'],
    [413, '{"error":"Input validation error: `inputs` must have less than 512 tokens. Given: 900"}'],
    [500, '{"error":"input is too large to process. increase the physical batch size"}'],
  ])('is too_long when the server says an input is over the window (HTTP %p)', async (statusCode, body) => {
    script.push({ statusCode, body });
    const error = await failureOf(embedder().embed(['a'], 'document'));
    expect(error.code).toBe('too_long');
    expect(received()).toHaveLength(1);
  });

  it.each([
    [404, /no such route/],
    [302, /redirected/],
    [422, /refused the request/],
  ])('is rejected on HTTP %p', async (statusCode, message) => {
    script.push({ statusCode, headers: { location: 'http://elsewhere.invalid/' }, body: '' });
    const error = await failureOf(embedder().embed(['a'], 'document'));
    expect(error.code).toBe('rejected');
    expect(error.message).toMatch(message);
    expect(received()).toHaveLength(1);
  });

  it('is unavailable when nothing listens, after retrying', async () => {
    const closed = await startTestServer(() => ({ statusCode: 200 }));
    await closed.close();
    let calls = 0;
    const counting: typeof fetch = (input, init) => {
      calls++;
      return fetch(input, init);
    };
    const e = createOpenAiEmbedder({
      baseUrl: closed.url,
      model: 'm',
      dimensions: DIMS,
      maxAttempts: 2,
      fetch: counting,
    });
    const error = await failureOf(e.embed(['a'], 'document'));
    expect(error.code).toBe('unavailable');
    expect(error.message).toMatch(/could not be reached: ECONNREFUSED/);
    expect(calls).toBe(2);
  });

  it('is unavailable without a request when the API key cannot be read', async () => {
    const e = embedder({
      apiKey: () => Promise.reject(new Error('AccessDenied')),
    });
    const error = await failureOf(e.embed(['a'], 'document'));
    expect(error.code).toBe('unavailable');
    expect(error.message).toMatch(/API key/);
    expect(received()).toHaveLength(0);
  });
});

describe('createOpenAiEmbedder: abort', () => {
  it('stops a request in flight when the caller aborts', async () => {
    script.push('hang');
    const controller = new AbortController();
    const pending = embedder({ timeoutMs: 60_000 }).embed(['a'], 'query', { signal: controller.signal });
    while (received().length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    controller.abort();
    const error = await failureOf(pending);
    expect(error.code).toBe('timeout');
    expect(error.message).toMatch(/aborted by the caller/);
    expect(received()).toHaveLength(1);
  });

  it('stops waiting out a back-off when the caller aborts', async () => {
    script.push({ statusCode: 429, headers: { 'retry-after': '5' }, body: '' }, ok(vectors(1)));
    const controller = new AbortController();
    const pending = embedder().embed(['a'], 'query', { signal: controller.signal });
    while (received().length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    controller.abort();
    const error = await failureOf(pending);
    expect(error.code).toBe('timeout');
    expect(error.message).toMatch(/aborted by the caller/);
    expect(received()).toHaveLength(1);
  });

  it('sends nothing for an already aborted signal', async () => {
    const controller = new AbortController();
    controller.abort();
    expect((await failureOf(embedder().embed(['a'], 'query', { signal: controller.signal }))).code).toBe('timeout');
    expect(received()).toHaveLength(0);
  });
});

describe('createOpenAiEmbedder: configuration', () => {
  it.each([
    [{ baseUrl: 'not a url' }, /baseUrl is not a URL/],
    [{ baseUrl: 'ftp://host/' }, /must be http\(s\)/],
    [{ baseUrl: 'http://user:pw@host/' }, /must not carry credentials/],
    [{ baseUrl: 'http://host/?x=1' }, /without a query/],
    [{ model: '' }, /model must be a non-empty string/],
    [{ dimensions: 0 }, /dimensions must be an integer/],
    [{ maxBatch: 0 }, /maxBatch must be an integer from 1 to 2048/],
    [{ maxAttempts: 0 }, /maxAttempts/],
    [{ timeoutMs: -1 }, /timeoutMs/],
  ])('refuses %p at construction', (bad, message) => {
    const build = () => createOpenAiEmbedder({ baseUrl: 'http://127.0.0.1:9', model: 'm', dimensions: 3, ...bad });
    expect(build).toThrow(ConfigError);
    expect(build).toThrow(message);
  });
});
