import { randomUUID } from 'node:crypto';
import { chatMessageSchema } from '#model/chat-completions';
import { timingSafeEqualValues } from '#platforms/shared/timing-safe';
import * as z from '#shared/zod';
import type { GenerateResult, ModelEngine } from './engine';
import { EVENT_STREAM_CONTENT_TYPE, encodeModelStreamError, encodePayloadPart } from './event-stream';
import { createRequestLimiter } from './request-limiter';
import { createPacedWriter } from './stream-pace';

/**
 * The model server's routes, independent of how requests arrive: the sandbox serves them over node:http
 * (`sandbox/model/model-server.ts`), the fallback function from Lambda function-URL events
 * (`functions/handlers/fallback-model.ts`). They serve the SageMaker runtime API paths the AWS SDK calls
 * (ARCHITECTURE §4.1) on top of a `ModelEngine`:
 * - `POST /endpoints/{name}/invocations` → chat-completions JSON with usage from the engine's tokenizer.
 * - `POST /endpoints/{name}/invocations-response-stream` → AWS event-stream frames, each a `PayloadPart` whose bytes
 *   are one SSE line (`data: {chat.completion.chunk}` … `data: [DONE]`).
 * - `GET /ping` → 200, as a SageMaker container's health check.
 * - `POST /v1/chat/completions` → the same engine behind the OpenAI API (as vLLM, TGI, Ollama or llama.cpp serve it):
 *   chat-completions JSON, or with `"stream": true` an SSE `text/event-stream` of `data: {chat.completion.chunk}` …
 *   `data: [DONE]` (a usage chunk only with `stream_options.include_usage`, as OpenAI does). Optional bearer key.
 * SageMaker-route errors carry `x-amzn-errortype` so the SDK raises the same exception names SageMaker would;
 * `/v1/…` errors are OpenAI's `{"error":{"message","type","code"}}`.
 */
export interface ModelRoutesOptions {
  engine: ModelEngine;
  /** If set, other endpoint names are answered like an unknown SageMaker endpoint (400 ValidationError). */
  endpointName?: string;
  /** SageMaker's own payload limit is 6 MB (25 MB streaming); the default is smaller. @default 1_048_576 */
  maxBodyBytes?: number;
  /** Requests asking for more are clamped to this. @default 512 */
  maxTokensLimit?: number;
  /** Used when a request omits `max_tokens`. @default 256 */
  defaultMaxTokens?: number;
  /** Requests waiting for a generation slot beyond this are refused with 429. @default 32 */
  maxQueue?: number;
  /**
   * Milliseconds between streamed content chunks (`MODEL_STREAM_PACE_MS`, `stream-pace.ts`): lets a person watch a
   * reply grow. Non-streaming invocations are not slowed. @default 0
   */
  streamPaceMs?: number;
  /**
   * If set, `/v1/…` requests must carry `Authorization: Bearer <apiKey>` (401 otherwise), like a vLLM `--api-key`.
   * The SageMaker routes are not affected (they do not check SigV4: a function URL's IAM auth does). @default none
   */
  apiKey?: string;
  /** Where unexpected engine failures are reported (their details never reach the caller). @default console.error */
  logError?: (message: string, err: unknown) => void;
}

/** One request as the host received it. */
export interface ModelRequest {
  readonly method: string;
  /** Without the query string. */
  readonly path: string;
  /** Lower-case names. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The whole body; `undefined` when it is over `limit` bytes (the host discards the rest). */
  readBody(limit: number): Promise<Uint8Array | undefined>;
  /** Aborted when the caller hangs up before the response ends: generation stops. */
  readonly signal: AbortSignal;
}

/**
 * Where a response goes: `writeHead` once, then `write`s, then `end`. Node's `ServerResponse` is one; the fallback
 * function adapts Lambda's `HttpResponseStream`, whose status and headers are fixed when it is created.
 */
export interface ResponseWriter {
  writeHead(status: number, headers: Readonly<Record<string, string>>): unknown;
  write(chunk: string | Uint8Array): unknown;
  end(chunk?: string | Uint8Array): unknown;
}

/** Serves one request; never rejects (failures are answered in the route's error shape). */
export type ModelRoutes = (request: ModelRequest, response: ResponseWriter) => Promise<void>;

const invocationBodySchema = z.object({
  messages: z.array(chatMessageSchema).check(z.minLength(1)),
  max_tokens: z.optional(z.int().check(z.positive())),
  temperature: z.optional(z.number().check(z.gte(0), z.lte(2))),
  stream: z.optional(z.boolean()),
});

/** OpenAI clients also send the model's name and stream options; other OpenAI fields are accepted and ignored. */
const openAiBodySchema = z.extend(invocationBodySchema, {
  model: z.optional(z.string()),
  stream_options: z.nullish(z.object({ include_usage: z.optional(z.boolean()) })),
});

/** A failure answered to the caller: HTTP status, SageMaker's error type (`x-amzn-errortype`), OpenAI's code. */
export class RouteProblem extends Error {
  constructor(
    readonly status: number,
    readonly errorType: string,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const ROUTE = /^\/endpoints\/([^/]+)\/(invocations|invocations-response-stream)$/;
const OPENAI_ROUTE = '/v1/chat/completions';
const isOpenAiPath = (path: string): boolean => path === '/v1' || path.startsWith('/v1/');

export function createModelRoutes(options: ModelRoutesOptions): ModelRoutes {
  const { engine } = options;
  const maxBodyBytes = options.maxBodyBytes ?? 1_048_576;
  const maxTokensLimit = options.maxTokensLimit ?? 512;
  const defaultMaxTokens = options.defaultMaxTokens ?? 256;
  const limiter = createRequestLimiter(engine.concurrency, options.maxQueue ?? 32);
  const logError = options.logError ?? ((message: string, err: unknown) => console.error(message, err));
  const streamPaceMs = options.streamPaceMs ?? 0;
  if (!Number.isSafeInteger(streamPaceMs) || streamPaceMs < 0)
    throw new RangeError(`streamPaceMs must be a non-negative integer, got ${streamPaceMs}`);
  if (options.apiKey === '') throw new RangeError('apiKey must not be empty; omit it to serve without a key');
  const { apiKey } = options;

  async function handle(req: ModelRequest, res: TrackedWriter): Promise<void> {
    const { path, method } = req;
    if (path === '/ping' && method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"status":"healthy"}');
      return;
    }
    if (isOpenAiPath(path)) {
      if (path !== OPENAI_ROUTE || method !== 'POST') {
        throw new RouteProblem(404, 'NotFound', 'not_found', `No route ${method} ${path}`);
      }
      if (apiKey !== undefined) checkBearer(req, apiKey);
      const body = parseBody(await readBody(req, maxBodyBytes), openAiBodySchema);
      const framing = body.stream ? openAiFraming(body.stream_options?.include_usage === true) : undefined;
      await generate(req, res, body, framing, {});
      return;
    }
    const match = ROUTE.exec(path);
    if (!match || method !== 'POST') throw new RouteProblem(404, 'NotFound', 'not_found', `No route ${path}`);
    const [, name, operation] = match;
    if (options.endpointName && name !== options.endpointName) {
      throw new RouteProblem(400, 'ValidationError', 'endpoint_not_found', `Endpoint ${name} not found.`);
    }
    const body = parseBody(await readBody(req, maxBodyBytes), invocationBodySchema);
    const framing = operation === 'invocations' ? undefined : SAGEMAKER_FRAMING;
    await generate(req, res, body, framing, { 'x-amzn-invoked-production-variant': 'AllTraffic' });
  }

  /** Runs the engine for one request: a whole answer without `framing`, else a stream framed for the route. */
  async function generate(
    req: ModelRequest,
    res: TrackedWriter,
    body: z.infer<typeof invocationBodySchema>,
    framing: StreamFraming | undefined,
    completionHeaders: Record<string, string>,
  ): Promise<void> {
    const maxTokens = Math.min(body.max_tokens ?? defaultMaxTokens, maxTokensLimit);
    const release = await limiter.acquire();
    if (!release) throw new RouteProblem(429, 'ThrottlingException', 'throttled', 'Too many queued requests.');
    try {
      const params = { messages: body.messages, maxTokens, temperature: body.temperature ?? 0.7, signal: req.signal };
      if (framing === undefined) {
        sendCompletion(res, engine.name, await engine.generate(params), completionHeaders);
      } else {
        await streamCompletion(res, engine, params, framing, streamPaceMs, logError);
      }
    } finally {
      release();
    }
  }

  return async (req, response) => {
    const res = tracked(response);
    try {
      await handle(req, res);
    } catch (err) {
      if (!(err instanceof RouteProblem)) logError('[model-server] request failed', err);
      answerProblem(req.path, res, err instanceof RouteProblem ? err : INTERNAL_FAILURE);
    }
  };
}

const INTERNAL_FAILURE = new RouteProblem(
  500,
  'InternalFailure',
  'internal_error',
  'The model server failed; see its log.',
);

/** A writer that knows whether the head was sent, so a failure after it only ends the response. */
interface TrackedWriter extends ResponseWriter {
  readonly headersSent: boolean;
}

function tracked(response: ResponseWriter): TrackedWriter {
  let headersSent = false;
  return {
    get headersSent() {
      return headersSent;
    },
    writeHead(status, headers) {
      headersSent = true;
      return response.writeHead(status, headers);
    },
    write: (chunk) => response.write(chunk),
    end: (chunk) => (chunk === undefined ? response.end() : response.end(chunk)),
  };
}

/**
 * Answers `problem` in the error shape of the route `path` belongs to (OpenAI's under `/v1`, SageMaker's elsewhere);
 * only ends the response when its head was already sent.
 */
export function answerProblem(path: string, response: ResponseWriter, problem: RouteProblem): void {
  const res = 'headersSent' in response ? (response as TrackedWriter) : tracked(response);
  if (res.headersSent) {
    res.end();
    return;
  }
  if (isOpenAiPath(path)) {
    const type =
      problem.status === 429 ? 'rate_limit_error' : problem.status < 500 ? 'invalid_request_error' : 'server_error';
    res.writeHead(problem.status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { message: problem.message, type, code: problem.code } }));
    return;
  }
  // `message` is where the AWS SDK reads an error's message from; `error` is the project's JSON error shape.
  res.writeHead(problem.status, { 'content-type': 'application/json', 'x-amzn-errortype': problem.errorType });
  res.end(JSON.stringify({ message: problem.message, error: { code: problem.code, message: problem.message } }));
}

async function readBody(req: ModelRequest, limit: number): Promise<Uint8Array> {
  const body = await req.readBody(limit);
  if (body === undefined) {
    throw new RouteProblem(413, 'ValidationError', 'payload_too_large', `Request body is over ${limit} bytes.`);
  }
  return body;
}

/** 401 unless the request carries the configured bearer key (compared in constant time). */
function checkBearer(req: ModelRequest, apiKey: string): void {
  const header = req.headers.authorization;
  const match = /^Bearer\s+(.+)$/i.exec(typeof header === 'string' ? header : '');
  if (!match?.[1] || !timingSafeEqualValues(match[1].trim(), apiKey)) {
    throw new RouteProblem(401, 'UnauthorizedError', 'invalid_api_key', 'Missing or incorrect API key.');
  }
}

function parseBody<S extends typeof invocationBodySchema>(raw: Uint8Array, schema: S): z.infer<S> {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw));
  } catch {
    throw new RouteProblem(400, 'ValidationError', 'invalid_json', 'Request body must be UTF-8 JSON.');
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ');
    throw new RouteProblem(400, 'ValidationError', 'invalid_request', `Invalid chat-completions request: ${detail}`);
  }
  return parsed.data;
}

const usageOf = (r: GenerateResult) => ({
  prompt_tokens: r.promptTokens,
  completion_tokens: r.completionTokens,
  total_tokens: r.promptTokens + r.completionTokens,
});

function sendCompletion(
  res: ResponseWriter,
  model: string,
  result: GenerateResult,
  headers: Record<string, string>,
): void {
  const body = {
    id: `chatcmpl-${randomUUID()}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [
      { index: 0, message: { role: 'assistant', content: result.content }, finish_reason: result.finishReason },
    ],
    usage: usageOf(result),
  };
  res.writeHead(200, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/** How a route puts stream lines on the wire. */
interface StreamFraming {
  readonly headers: Readonly<Record<string, string>>;
  /** One SSE `data:` line carrying `payload`. */
  frame(payload: string): string | Uint8Array;
  /** What the caller reads when generation fails after the 200 was sent. */
  failure(): string | Uint8Array;
  /** Whether a usage chunk precedes `[DONE]`. */
  readonly includeUsage: boolean;
}

const encoder = new TextEncoder();
const GENERATION_FAILED = 'Generation failed; see the model server log.';

/** SageMaker: every SSE line in its own `PayloadPart` event; a failure is a `ModelStreamError` exception frame. */
const SAGEMAKER_FRAMING: StreamFraming = {
  headers: {
    'content-type': EVENT_STREAM_CONTENT_TYPE,
    'x-amzn-sagemaker-content-type': 'text/event-stream',
    'x-amzn-invoked-production-variant': 'AllTraffic',
  },
  frame: (payload) => encodePayloadPart(encoder.encode(`data: ${payload}\n\n`)),
  failure: () => encodeModelStreamError(GENERATION_FAILED, 'GenerationFailed'),
  includeUsage: true,
};

/** OpenAI: plain SSE; a failure is a `data: {"error":…}` event and no `[DONE]` (what vLLM sends). */
const openAiFraming = (includeUsage: boolean): StreamFraming => ({
  headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' },
  frame: (payload) => `data: ${payload}\n\n`,
  failure: () =>
    `data: ${JSON.stringify({ error: { message: GENERATION_FAILED, type: 'server_error', code: 'generation_failed' } })}\n\n`,
  includeUsage,
});

async function streamCompletion(
  res: ResponseWriter,
  engine: ModelEngine,
  params: Parameters<ModelEngine['generate']>[0],
  framing: StreamFraming,
  paceMs: number,
  logError: (message: string, err: unknown) => void,
): Promise<void> {
  const id = `chatcmpl-${randomUUID()}`;
  const created = Math.floor(Date.now() / 1000);
  // Content deltas are paced; the closing lines follow the last delta at once, in order.
  const writer = createPacedWriter({
    paceMs,
    signal: params.signal,
    write: (payload) => res.write(framing.frame(payload)),
  });
  const sendLine = (payload: string, paced = false): void => writer.push(payload, paced);
  const chunk = (choices: unknown[], extra: object = {}): string =>
    JSON.stringify({ id, object: 'chat.completion.chunk', created, model: engine.name, choices, ...extra });

  res.writeHead(200, framing.headers);
  try {
    const result = await engine.generate({
      ...params,
      onText: (text) => sendLine(chunk([{ index: 0, delta: { content: text }, finish_reason: null }]), true),
    });
    sendLine(chunk([{ index: 0, delta: {}, finish_reason: result.finishReason }]));
    if (framing.includeUsage) sendLine(chunk([], { usage: usageOf(result) }));
    sendLine('[DONE]');
    await writer.drained();
  } catch (err) {
    await writer.drained().catch(() => undefined);
    if (!params.signal.aborted) {
      logError('[model-server] stream failed', err);
      res.write(framing.failure());
    }
  }
  res.end();
}
