import * as z from '#shared/zod';
import { type ClassifiedFailure, retryAfterMsOf, withRetries, withTimeout } from './attempts';
import { batchesOf } from './batches';
import { DEFAULT_MAX_CHARS, type Embedder, EmbeddingError } from './embedder';
import { configProblems } from './embedder-config';
import { inputText } from './input-text';
import { offContract, parseJsonBody, unitVectors } from './response-vectors';
import { saysInputTooLong, serverMessageOf } from './server-message';

/**
 * An `Embedder` over an OpenAI-compatible embeddings API (vLLM, TEI, llama.cpp server, Ollama serve, the sandbox's
 * embedding server): `POST {baseUrl}/v1/embeddings` with `{ model, input: string[], encoding_format: 'float' }`,
 * answered `{ data: [{ index, embedding: number[] }] }`. `baseUrl` is the server's root; a root that already ends in
 * `/v1` (as the chat model's `baseUrl` does) is used as is, so both spellings reach the same route.
 *
 * Per request: `timeoutMs` for the whole answer (headers and body); 429, 5xx and connection failures are retried up
 * to `maxAttempts` with full-jitter back-off, honouring a `Retry-After` of up to 5 s (a longer one fails the call as
 * `throttled`). Timeouts are not retried: a server that hung once is likely to hang again, and a question is waiting.
 * HTTP 401/403 is `rejected` without the server's text (some servers echo the key); the key never appears in an error.
 * Batches are sent one after another: order is kept and a private GPU server is not flooded by one ingestion.
 */
export interface OpenAiEmbedderOptions {
  readonly baseUrl: string;
  readonly model: string;
  readonly dimensions: number;
  /** Bearer; from Secrets Manager in AWS. Read once per `embed` call; `undefined` or '' sends no header. */
  readonly apiKey?: () => Promise<string | undefined>;
  /** Per request. @default 10_000 */
  readonly timeoutMs?: number;
  /** Inputs per request. @default 64 */
  readonly maxBatch?: number;
  /** On 429/5xx/network, full-jitter backoff, honour Retry-After (≤ 5 s). @default 3 */
  readonly maxAttempts?: number;
  /** Prepended to query / document texts, e.g. 'query: ' / 'passage: ' for E5 models. @default '' */
  readonly queryPrefix?: string;
  readonly documentPrefix?: string;
  /** Characters sent of one input (prefix included); the rest is cut. @default DEFAULT_MAX_CHARS */
  readonly maxChars?: number;
  readonly fetch?: typeof fetch;
}

const responseSchema = z.object({
  data: z.array(z.object({ index: z.int().check(z.gte(0)), embedding: z.array(z.number()) })),
});

/** A non-2xx answer; `detail` is the server's message, already redacted. */
class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly retryAfterMs: number | undefined,
  ) {
    super(`HTTP ${status}`);
  }
}

/** undici's own timeouts (connect, headers, body) are timeouts; every other connection failure may pass. */
const UNDICI_TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

export function createOpenAiEmbedder(options: OpenAiEmbedderOptions): Embedder {
  const url = embeddingsUrl(options);
  const source = `Embedding server ${url}`;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxBatch = options.maxBatch ?? 64;
  const maxAttempts = options.maxAttempts ?? 3;
  const maxChars = options.maxChars ?? DEFAULT_MAX_CHARS;
  const fetchImpl = options.fetch ?? fetch;

  async function readApiKey(): Promise<string | undefined> {
    if (!options.apiKey) return undefined;
    try {
      const key = await options.apiKey();
      return key === '' ? undefined : key;
    } catch (cause) {
      throw new EmbeddingError('unavailable', 'Could not read the embedding server API key', { cause });
    }
  }

  async function post(inputs: readonly string[], apiKey: string | undefined, signal: AbortSignal) {
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
    if (apiKey !== undefined) headers.authorization = `Bearer ${apiKey}`;
    const res = await fetchImpl(url, {
      method: 'POST',
      headers,
      body: JSON.stringify({ model: options.model, input: inputs, encoding_format: 'float' }),
      signal,
      // A redirect is a misconfigured base URL: report it rather than re-send the texts (and key) elsewhere.
      redirect: 'manual',
    });
    const text = await res.text();
    if (!res.ok) {
      throw new HttpStatusError(
        res.status,
        serverMessageOf(text, apiKey),
        retryAfterMsOf(res.headers.get('retry-after')),
      );
    }
    const parsed = responseSchema.safeParse(parseJsonBody(text, source));
    if (!parsed.success) throw offContract(source, parsed.error, '{ data: [{ index, embedding: number[] }] }');
    const data = [...parsed.data.data].sort((a, b) => a.index - b.index);
    if (data.some((item, i) => item.index !== i) && data.length === inputs.length) {
      throw new EmbeddingError('bad_response', `${source} answered indices that are not 0..${inputs.length - 1}`);
    }
    return unitVectors(
      data.map((item) => item.embedding),
      inputs.length,
      options.dimensions,
      source,
    );
  }

  const classify = (err: unknown, keySent: boolean): ClassifiedFailure =>
    err instanceof HttpStatusError ? classifyStatus(err, source, keySent) : classifyThrown(err, source);

  return {
    model: options.model,
    dimensions: options.dimensions,
    async embed(texts, purpose, { signal } = {}) {
      if (texts.length === 0) return [];
      const prefix = (purpose === 'query' ? options.queryPrefix : options.documentPrefix) ?? '';
      const inputs = texts.map((text) => inputText(text, maxChars, prefix));
      const apiKey = await readApiKey();
      const vectors: Float32Array[] = [];
      for (const batch of batchesOf(inputs, maxBatch)) {
        const batchVectors = await withRetries(
          () => withTimeout(source, timeoutMs, signal, (attemptSignal) => post(batch, apiKey, attemptSignal)),
          (err) => classify(err, apiKey !== undefined),
          { maxAttempts, signal },
        );
        vectors.push(...batchVectors);
      }
      return vectors;
    },
  };
}

function classifyStatus(err: HttpStatusError, source: string, keySent: boolean): ClassifiedFailure {
  const { status, detail } = err;
  const fail = (code: EmbeddingError['code'], retryable: boolean, message: string): ClassifiedFailure => ({
    error: new EmbeddingError(code, message, { cause: err }),
    retryable,
  });
  const withDetail = (what: string) => `${source} ${what} (HTTP ${status})${detail ? `: ${detail}` : ''}`;
  if (status === 401 || status === 403) {
    const what = keySent ? 'refused the API key' : 'requires an API key and none is configured';
    return fail('rejected', false, `${source} ${what} (HTTP ${status})`);
  }
  if (status === 429) return { ...fail('throttled', true, withDetail('throttled')), retryAfterMs: err.retryAfterMs };
  if (status === 413 || saysInputTooLong(detail)) {
    return fail('too_long', false, withDetail('refused an input as too long; lower maxChars'));
  }
  if (status >= 500) return fail('unavailable', true, withDetail('failed'));
  if (status >= 300 && status < 400) return fail('rejected', false, withDetail('redirected: check baseUrl'));
  if (status === 404) return fail('rejected', false, withDetail('has no such route: check baseUrl'));
  return fail('rejected', false, withDetail('refused the request'));
}

/**
 * What `fetch` or a body read threw. fetch rejects with `TypeError('fetch failed')` and the socket error, with its
 * `code`, in `cause`; duck-typed, because undici's TypeError may come from another realm (jest).
 */
function classifyThrown(err: unknown, source: string): ClassifiedFailure {
  if (err instanceof EmbeddingError) return { error: err, retryable: false };
  const code = networkCodeOf(err);
  if (code !== undefined && UNDICI_TIMEOUT_CODES.has(code)) {
    return { error: new EmbeddingError('timeout', `${source} timed out: ${code}`, { cause: err }), retryable: false };
  }
  const why = code ?? (err instanceof Error ? err.message : String(err));
  return {
    error: new EmbeddingError('unavailable', `${source} could not be reached: ${why}`, { cause: err }),
    retryable: true,
  };
}

function networkCodeOf(err: unknown): string | undefined {
  const codeOf = (value: unknown): unknown =>
    typeof value === 'object' && value !== null ? (value as { code?: unknown }).code : undefined;
  const nested = typeof err === 'object' && err !== null ? (err as { cause?: unknown }).cause : undefined;
  const code = codeOf(nested) ?? codeOf(err);
  return typeof code === 'string' ? code : undefined;
}

/** The embeddings route, or a `ConfigError` naming every bad option. */
function embeddingsUrl(options: OpenAiEmbedderOptions): string {
  const problems = configProblems('OpenAI-compatible embedder');
  problems.text('model', options.model);
  problems.integer('dimensions', options.dimensions, 1, 65_536);
  problems.integer('timeoutMs', options.timeoutMs, 1);
  problems.integer('maxBatch', options.maxBatch, 1, 2_048);
  problems.integer('maxAttempts', options.maxAttempts, 1, 10);
  problems.integer('maxChars', options.maxChars, 1);
  let parsed: URL | undefined;
  try {
    parsed = new URL(options.baseUrl);
  } catch {
    problems.add('baseUrl is not a URL');
  }
  if (parsed) {
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      problems.add(`baseUrl must be http(s), got ${parsed.protocol}`);
    }
    if (parsed.search !== '' || parsed.hash !== '') problems.add('baseUrl must be the server root, without a query');
    // Credentials in the URL would end up in logs and error messages; the key belongs in `apiKey`.
    if (parsed.username !== '' || parsed.password !== '') problems.add('baseUrl must not carry credentials');
  }
  problems.throwIfAny();
  const root = options.baseUrl.replace(/\/+$/, '');
  return root.endsWith('/v1') ? `${root}/embeddings` : `${root}/v1/embeddings`;
}
