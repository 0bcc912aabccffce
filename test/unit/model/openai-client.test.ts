import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '#core/errors';
import type { ChatRequest } from '#model/chat-completions';
import { createOpenAiClient, type OpenAiClientOptions } from '#model/openai-client';
import { modelError } from '../../helpers/factories';

/**
 * `createOpenAiClient` against a scripted local OpenAI-compatible server over real sockets and Node's real `fetch`.
 * Each request takes the next reply from `script`: a whole body, a body written in parts (optionally followed by a
 * hang or a dropped connection), or a hang.
 */
type Reply =
  | { status: number; headers?: Record<string, string>; body: string }
  | { status: number; parts: readonly (string | Uint8Array)[]; ending?: 'hang' | 'drop' }
  | 'hang';

interface Recorded {
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}

const KEY = 'sk-test-0123456789abcdef';
const USAGE = { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 };

const completion = (content: string, extra: object = { usage: USAGE }) =>
  JSON.stringify({
    id: 'chatcmpl-1',
    object: 'chat.completion',
    model: 'qwen2.5-7b-instruct',
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
    ...extra,
  });
const chunk = (content: string | null, finish: string | null = null) =>
  JSON.stringify({
    object: 'chat.completion.chunk',
    choices: [{ index: 0, delta: { content }, finish_reason: finish }],
  });
const usageChunk = JSON.stringify({ object: 'chat.completion.chunk', choices: [], usage: USAGE });
const sse = (...payloads: string[]) => payloads.map((p) => `data: ${p}\n\n`).join('');
const SSE = { 'content-type': 'text/event-stream' };

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
const open: ServerResponse[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      recorded.push({
        path: req.url ?? '',
        headers: req.headers,
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>,
      });
      void reply(res, script.shift() ?? { status: 500, body: '{"error":{"message":"unscripted"}}' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});

afterAll(async () => {
  for (const res of open) res.destroy();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  script = [];
  recorded = [];
});

async function reply(res: ServerResponse, r: Reply): Promise<void> {
  if (r === 'hang') {
    open.push(res);
    return;
  }
  if ('body' in r) {
    res.writeHead(r.status, { 'content-type': 'application/json', ...r.headers }).end(r.body);
    return;
  }
  res.writeHead(r.status, SSE);
  res.flushHeaders();
  for (const part of r.parts) {
    res.write(part);
    // Separate TCP writes, so the client really receives the parts one by one.
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  if (r.ending === 'hang') open.push(res);
  else if (r.ending === 'drop') res.socket?.destroy();
  else res.end();
}

function client(overrides: Partial<OpenAiClientOptions> = {}) {
  const sleeps: number[] = [];
  const c = createOpenAiClient({
    baseUrl: url,
    model: 'qwen2.5-7b-instruct',
    modelId: 'vllm-qwen',
    apiKey: async () => KEY,
    billing: { kind: 'free' },
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

/** Splits a string's UTF-8 bytes at the given offsets (cuts may land inside a character or a line). */
function splitBytes(text: string, cuts: readonly number[]): Uint8Array[] {
  const bytes = new TextEncoder().encode(text);
  const out: Uint8Array[] = [];
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    out.push(bytes.subarray(start, cut));
    start = cut;
  }
  return out;
}

describe('createOpenAiClient.invoke', () => {
  it('posts model + chat-completions body with the bearer key to {baseUrl}/chat/completions', async () => {
    script = [{ status: 200, body: completion('报销请走 OA 系统。') }];
    const result = await client({ baseUrl: `${url}/` }).c.invoke(REQUEST, { deadline: deadline() });
    expect(result).toMatchObject({
      content: '报销请走 OA 系统。',
      finishReason: 'stop',
      usage: { promptTokens: 7, completionTokens: 3, totalTokens: 10 },
      attempts: 1,
      modelId: 'vllm-qwen',
      billing: { kind: 'free' },
    });
    expect(result.timeToFirstTokenMs).toBe(result.latencyMs);
    expect(recorded).toHaveLength(1);
    expect(recorded[0]?.path).toBe('/v1/chat/completions');
    expect(recorded[0]?.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(recorded[0]?.body).toEqual({
      model: 'qwen2.5-7b-instruct',
      messages: REQUEST.messages,
      max_tokens: 64,
      temperature: 0.2,
      stream: false,
    });
  });

  it('sends no Authorization header when there is no key (getter absent or returning undefined)', async () => {
    script = [
      { status: 200, body: completion('a') },
      { status: 200, body: completion('b') },
    ];
    await client({ apiKey: undefined }).c.invoke(REQUEST, { deadline: deadline() });
    await client({ apiKey: async () => undefined }).c.invoke(REQUEST, { deadline: deadline() });
    expect(recorded.map((r) => r.headers.authorization)).toEqual([undefined, undefined]);
  });

  it('counts an answer without usage as bad_response, without retrying (as the SageMaker client does)', async () => {
    script = [{ status: 200, body: completion('x', {}) }];
    const err = await modelError(client().c.invoke(REQUEST, { deadline: deadline() }));
    expect(err.reason).toBe('bad_response');
    expect(recorded).toHaveLength(1);
  });

  it('rejects a 200 whose body is not JSON as bad_response', async () => {
    script = [{ status: 200, headers: { 'content-type': 'text/html' }, body: '<html>proxy login</html>' }];
    expect((await modelError(client().c.invoke(REQUEST, { deadline: deadline() }))).reason).toBe('bad_response');
  });

  it.each([401, 403])('a %i says the key was refused, never shows the key, and is not retried', async (status) => {
    // Some servers echo the credential they were given; none of it may reach the error.
    script = [{ status, body: JSON.stringify({ error: { message: `Incorrect API key provided: ${KEY}` } }) }];
    let refusals = 0;
    const { c } = client({ breaker: { failureThreshold: 1 }, onKeyRefused: () => refusals++ });
    const err = await modelError(c.invoke(REQUEST, { deadline: deadline() }));
    expect(refusals).toBe(1); // the caller's cached key is dropped, so a rotated key is read next time
    expect(err.reason).toBe('client_error');
    expect(err.message).toContain('refused the API key');
    expect(err.message).toContain(String(status));
    expect(err.message).not.toContain(KEY);
    expect(err.message).not.toContain(KEY.slice(0, 8));
    expect(recorded).toHaveLength(1);
    expect(c.circuitState()).toBe('closed'); // the server answered: no evidence it is down
  });

  it('a 401 without a configured key says that a key is required', async () => {
    script = [{ status: 401, body: '{"error":{"message":"missing key"}}' }];
    const err = await modelError(client({ apiKey: undefined }).c.invoke(REQUEST, { deadline: deadline() }));
    expect(err.reason).toBe('client_error');
    expect(err.message).toMatch(/requires an API key and none is configured/);
  });

  it.each([
    [400, '{"error":{"message":"max_tokens is too large","type":"BadRequestError"}}', 'max_tokens is too large'],
    [404, '{"object":"error","message":"The model `qwen` does not exist."}', 'does not exist'],
    [422, '{"detail":"field required"}', 'field required'],
  ])('a %i is a client_error carrying the server message, not retried', async (status, body, detail) => {
    script = [{ status, body }];
    const err = await modelError(client().c.invoke(REQUEST, { deadline: deadline() }));
    expect(err.reason).toBe('client_error');
    expect(err.message).toContain(detail);
    expect(recorded).toHaveLength(1);
  });

  it('redacts the key from other error messages too, and keeps them short', async () => {
    script = [{ status: 400, body: `bad request from ${KEY} ${'x'.repeat(2_000)}` }];
    const err = await modelError(client().c.invoke(REQUEST, { deadline: deadline() }));
    expect(err.message).toContain('[redacted]');
    expect(err.message).not.toContain(KEY);
    expect(err.message.length).toBeLessThan(400);
  });

  it('redacts a key the server echoed JSON-escaped (a / written as \\/), in answers and in stream errors', async () => {
    const slashed = 'Zm9v/YmFy+c2VjcmV0';
    const escaped = JSON.stringify({ error: { message: `bad key Bearer ${slashed}` } }).replace('/', '\\/');
    expect(escaped).not.toContain(slashed);
    script = [{ status: 400, body: escaped }];
    const whole = await modelError(client({ apiKey: async () => slashed }).c.invoke(REQUEST, { deadline: deadline() }));
    expect(whole.message).not.toContain(slashed);
    expect(whole.message).toContain('[redacted]');
    script = [{ status: 200, headers: { 'content-type': 'text/event-stream' }, body: `data: ${escaped}\n\n` }];
    const streamed = await modelError(
      client({ apiKey: async () => slashed }).c.invokeStream(REQUEST, { deadline: deadline() }),
    );
    expect(streamed.reason).toBe('server_error');
    expect(streamed.message).not.toContain(slashed);
  });

  it('retries a 429 after the longer of its back-off and Retry-After, then succeeds', async () => {
    script = [
      { status: 429, headers: { 'retry-after': '1' }, body: '{"error":{"message":"slow down"}}' },
      { status: 200, body: completion('ok') },
    ];
    const { c, sleeps } = client();
    const result = await c.invoke(REQUEST, { deadline: deadline() });
    expect(result.content).toBe('ok');
    expect(result.attempts).toBe(2);
    expect(sleeps).toEqual([1_000]); // Retry-After 1 s beats the 50 ms jittered back-off
  });

  it('gives up at once as throttled when Retry-After does not fit the deadline', async () => {
    script = [{ status: 429, headers: { 'retry-after': '120' }, body: '{"error":{"message":"slow down"}}' }];
    const { c, sleeps } = client();
    const err = await modelError(c.invoke(REQUEST, { deadline: deadline(5_000) }));
    expect(err.reason).toBe('throttled');
    expect(err.message).toContain('slow down');
    expect(sleeps).toEqual([]);
    expect(recorded).toHaveLength(1);
  });

  it('retries 5xx with full-jitter back-off; three 500s are a server_error', async () => {
    const fail: Reply = { status: 500, body: '{"error":{"message":"CUDA out of memory"}}' };
    script = [fail, fail, fail];
    const { c, sleeps } = client();
    const err = await modelError(c.invoke(REQUEST, { deadline: deadline() }));
    expect(err.reason).toBe('server_error');
    expect(err.message).toContain('CUDA out of memory');
    expect(recorded).toHaveLength(3);
    expect(sleeps).toEqual([50, 100]);
  });

  it('treats a refused connection as a retried server_error', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const { c, sleeps } = client({ baseUrl: `http://127.0.0.1:${port}/v1` });
    const err = await modelError(c.invoke(REQUEST, { deadline: deadline() }));
    expect(err.reason).toBe('server_error');
    expect(sleeps).toHaveLength(2);
  });

  it('aborts at the deadline with a timeout error', async () => {
    script = ['hang'];
    const err = await modelError(client().c.invoke(REQUEST, { deadline: deadline(300) }));
    expect(err.reason).toBe('timeout');
    expect(err.httpStatus).toBe(504);
    expect(err.message).toBe('Model call exceeded its deadline');
    expect(recorded).toHaveLength(1);
  });

  it('times out an attempt that stays silent for requestTimeoutMs, well before the deadline', async () => {
    script = ['hang'];
    const err = await modelError(
      client({ timeouts: { requestTimeoutMs: 200 } }).c.invoke(REQUEST, { deadline: deadline(60_000) }),
    );
    expect(err.reason).toBe('timeout');
    expect(err.message).toMatch(/sent nothing for 200 ms/);
  });

  it('wraps a failing key getter as server_error and does not call the server', async () => {
    const err = await modelError(
      client({
        apiKey: async () => {
          throw new Error('AccessDeniedException: secret arn:aws:secretsmanager:…');
        },
      }).c.invoke(REQUEST, { deadline: deadline() }),
    );
    expect(err.reason).toBe('server_error');
    expect(err.message).toBe('Could not read the model server API key');
    expect(recorded).toHaveLength(0);
  });

  it.each([
    ['not a URL', 'vllm.internal:8000'],
    ['not http(s)', 'ftp://vllm.internal/v1'],
    ['credentials in the URL', 'http://user:secret@vllm.internal/v1'],
    ['carrying a query (the path would be appended after it)', 'http://vllm.internal/v1?tenant=a'],
    ['carrying a fragment', 'http://vllm.internal/v1#x'],
  ])('refuses a baseUrl that is %s with a ConfigError', (_label, baseUrl) => {
    expect(() => client({ baseUrl })).toThrow(ConfigError);
  });
});

describe('createOpenAiClient circuit breaker', () => {
  it('opens after the configured failed calls and then fails fast without calling the server', async () => {
    const fail: Reply = { status: 503, body: '{"error":{"message":"loading"}}' };
    script = [fail, fail, fail, fail];
    const { c } = client({ retry: { maxAttempts: 2 }, breaker: { failureThreshold: 2, coolDownMs: 60_000 } });
    expect((await modelError(c.invoke(REQUEST, { deadline: deadline() }))).reason).toBe('server_error');
    expect(c.circuitState()).toBe('closed');
    expect((await modelError(c.invoke(REQUEST, { deadline: deadline() }))).reason).toBe('server_error');
    expect(c.circuitState()).toBe('open');
    expect(recorded).toHaveLength(4);
    expect((await modelError(c.invoke(REQUEST, { deadline: deadline() }))).reason).toBe('circuit_open');
    expect((await modelError(c.invokeStream(REQUEST, { deadline: deadline() }))).reason).toBe('circuit_open');
    expect(recorded).toHaveLength(4);
  });
});

describe('createOpenAiClient.invokeStream', () => {
  const PIECES = ['你好', '，世界 ', '🎉👩‍💻', ' done'];

  it('asks for a stream with usage, delivers deltas in order across CRLF, comments and arbitrary splits', async () => {
    const body = [
      ': keep-alive comment\r\n\r\n',
      ...PIECES.map((p) => `data: ${chunk(p)}\r\n\r\n`),
      `data:${chunk(null, 'stop')}\r\n\r\n`, // no space after the colon is valid SSE
      `data: ${usageChunk}\r\n\r\n`,
      'data: [DONE]\r\n\r\n',
    ].join('');
    const bytes = new TextEncoder().encode(body);
    // Cuts mid-line, between \r and \n, and inside the 4-byte emoji.
    const emojiAt = bytes.indexOf(0xf0);
    const crAt = bytes.indexOf(0x0d, 40);
    script = [{ status: 200, parts: splitBytes(body, [7, crAt + 1, emojiAt + 2, emojiAt + 9, bytes.length - 3]) }];
    const deltas: string[] = [];
    const result = await client().c.invokeStream(REQUEST, { deadline: deadline(), onDelta: (d) => deltas.push(d) });
    expect(deltas).toEqual(PIECES);
    expect(result).toMatchObject({
      content: PIECES.join(''),
      finishReason: 'stop',
      usage: { promptTokens: 7, completionTokens: 3, totalTokens: 10 },
      attempts: 1,
      modelId: 'vllm-qwen',
    });
    expect(result.timeToFirstTokenMs).toBeGreaterThanOrEqual(0);
    expect(recorded[0]?.headers.accept).toBe('text/event-stream');
    expect(recorded[0]?.body).toMatchObject({ model: 'qwen2.5-7b-instruct', stream: true });
    expect(recorded[0]?.body.stream_options).toEqual({ include_usage: true });
  });

  it('[DONE] ends the stream: a natural end without finish_reason is stop, usage is optional', async () => {
    script = [{ status: 200, parts: [sse(chunk('一'), chunk('二'), '[DONE]')] }];
    const result = await client().c.invokeStream(REQUEST, { deadline: deadline() });
    expect(result.content).toBe('一二');
    expect(result.finishReason).toBe('stop');
    expect(result.usage).toBeUndefined();
  });

  it('data after [DONE] is bad_response', async () => {
    script = [{ status: 200, parts: [sse(chunk('一'), '[DONE]', chunk('late'))] }];
    expect((await modelError(client().c.invokeStream(REQUEST, { deadline: deadline() }))).reason).toBe('bad_response');
  });

  it.each([
    ['a line that is not JSON', sse('{"choices": [ {"delta"')],
    ['a chunk off the contract', sse('{"choices":[{"delta":{"content":42}}]}')],
    ['a body with no chunk at all', '\n\n'],
  ])('rejects a malformed stream (%s) as bad_response without retrying', async (_label, body) => {
    script = [{ status: 200, parts: [body] }];
    const err = await modelError(client().c.invokeStream(REQUEST, { deadline: deadline() }));
    expect(err.reason).toBe('bad_response');
    expect(recorded).toHaveLength(1);
  });

  it.each([
    [
      'vLLM/OpenAI',
      sse(chunk('部分'), JSON.stringify({ error: { message: 'engine died', type: 'InternalServerError' } })),
    ],
    ['TGI', sse(chunk('部分'), JSON.stringify({ error: 'engine died', error_type: 'generation' }))],
    ['llama.cpp', `${sse(chunk('部分'))}error: {"code":500,"message":"engine died"}\n\n`],
  ])('an error event inside a 200 stream (%s) is a server_error after the delivered delta', async (_l, body) => {
    script = [{ status: 200, parts: [body] }];
    const deltas: string[] = [];
    const err = await modelError(
      client().c.invokeStream(REQUEST, { deadline: deadline(), onDelta: (d) => deltas.push(d) }),
    );
    expect(err.reason).toBe('server_error');
    expect(err.message).toContain('engine died');
    expect(deltas).toEqual(['部分']);
    expect(recorded).toHaveLength(1);
  });

  it('retries a stream that dropped before any delta', async () => {
    script = [
      { status: 200, parts: [': warming up\n\n'], ending: 'drop' },
      { status: 200, parts: [sse(chunk('ok', 'stop'), '[DONE]')] },
    ];
    const result = await client().c.invokeStream(REQUEST, { deadline: deadline() });
    expect(result.content).toBe('ok');
    expect(result.attempts).toBe(2);
  });

  it('never retries once a delta was delivered, even on a retryable failure', async () => {
    script = [
      { status: 200, parts: [sse(chunk('部分'))], ending: 'drop' },
      { status: 200, parts: [sse(chunk('again', 'stop'), '[DONE]')] },
    ];
    const deltas: string[] = [];
    const err = await modelError(
      client().c.invokeStream(REQUEST, { deadline: deadline(), onDelta: (d) => deltas.push(d) }),
    );
    expect(err.reason).toBe('server_error');
    expect(deltas).toEqual(['部分']);
    expect(recorded).toHaveLength(1);
  });

  it('a stream that stalls past the deadline is a timeout, keeping what was delivered', async () => {
    script = [{ status: 200, parts: [sse(chunk('一'))], ending: 'hang' }];
    const deltas: string[] = [];
    const err = await modelError(
      client().c.invokeStream(REQUEST, { deadline: deadline(400), onDelta: (d) => deltas.push(d) }),
    );
    expect(err.reason).toBe('timeout');
    expect(deltas).toEqual(['一']);
    expect(recorded).toHaveLength(1);
  });

  it('maps statuses before the stream like invoke does (429 retried, 401 not)', async () => {
    script = [
      { status: 429, body: '{"error":{"message":"busy"}}' },
      { status: 200, parts: [sse(chunk('ok', 'stop'), '[DONE]')] },
    ];
    expect((await client().c.invokeStream(REQUEST, { deadline: deadline() })).attempts).toBe(2);
    script = [{ status: 401, body: '{"error":{"message":"no"}}' }];
    const err = await modelError(client().c.invokeStream(REQUEST, { deadline: deadline() }));
    expect(err.reason).toBe('client_error');
    expect(recorded).toHaveLength(3);
  });
});
