import type { ModelBilling } from '#core/cost/model-billing';
import { ConfigError, ModelError } from '#core/errors';
import { createCallRunner, linkAbort, type ModelCallOptions } from './call-runner';
import { type ChatRequest, parseChatCompletion, toRequestBody } from './chat-completions';
import { type ClassifiedError, classifyModelError } from './classify-error';
import type { ModelClient } from './model-client';
import { createStreamAccumulator } from './stream-parser';

/**
 * The `ModelClient` of an OpenAI-compatible server (vLLM, TGI, Ollama, llama.cpp server, the sandbox's model server)
 * at `POST {baseUrl}/chat/completions`, over Node's global `fetch`. Same behaviour as the SageMaker client: bounded
 * retries with full jitter inside the caller's deadline, a circuit breaker, every failure a `ModelError`.
 *
 * HTTP statuses: 401/403 → `client_error` ("API key refused"), other 4xx → `client_error`, 429 → `throttled`
 * (retried, honouring `Retry-After` when it fits the deadline), 5xx → `server_error` (retried). The caller's deadline
 * or `requestTimeoutMs` of silence → `timeout`. Connection failures are classified like the SageMaker SDK's
 * (`classify-error.ts`). A 200 with an off-contract body or stream, or without `usage` on a whole-answer call, is
 * `bad_response`. An error event inside a 200 stream (`data: {"error":…}` or an `error:` line) is `server_error`.
 * The API key is sent as `Authorization: Bearer` and never appears in an error message (server text is redacted).
 */
export interface OpenAiClientOptions extends ModelCallOptions {
  /** The API root including its version, e.g. `http://vllm.internal:8000/v1`; requests go to `/chat/completions`. */
  baseUrl: string;
  /** The `model` field sent to the server (the name it serves the model under). */
  model: string;
  /** Logical model id recorded with every result (cost ledger, cache keys); not sent to the server. */
  modelId: string;
  /**
   * The bearer key, read once per call (the caller caches it, e.g. from Secrets Manager); `undefined` sends no
   * `Authorization` header. A failure to read it is a `server_error` that does not count against the breaker.
   */
  apiKey?: () => Promise<string | undefined>;
  /** Called when the server refused the key sent (401/403), so a cached key is read afresh next time (rotation). */
  onKeyRefused?: () => void;
  /** How this server's answers are paid for (`ModelResult.billing`). */
  billing: ModelBilling;
  timeouts?: {
    /** Longest silence of one attempt: until the response headers, then between streamed chunks. @default 70_000 */
    requestTimeoutMs?: number;
  };
}

/** `touch` restarts the attempt's silence timer (call it when bytes arrive). */
type Attempt<T> = (signal: AbortSignal, attemptStart: number, touch: () => void) => Promise<T>;

/** A non-2xx answer; classified by `classifyOpenAiError`. `detail` is the server's message, already redacted. */
class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly retryAfterMs: number | undefined,
  ) {
    super(`HTTP ${status}`);
  }
}

const encoder = new TextEncoder();
const MAX_DETAIL_CHARS = 300;
/** undici's own timeouts (connect, headers, body) are timeouts; its socket errors are resets, as the SDK's ECONNRESET. */
const UNDICI_TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

export function createOpenAiClient(options: OpenAiClientOptions): ModelClient {
  const url = chatCompletionsUrl(options.baseUrl);
  const runner = createCallRunner({ ...options, circuitOpenMessage: 'Model server circuit is open; failing fast' });
  const { now, breaker } = runner;
  const idleMs = options.timeouts?.requestTimeoutMs ?? 70_000;

  async function withinDeadline<T>(
    budgetMs: number,
    attempt: Attempt<T>,
    attemptStart: number,
    external: AbortSignal | undefined,
  ): Promise<T> {
    const controller = new AbortController();
    const unlink = linkAbort(controller, external);
    let silent = false;
    const deadlineTimer = setTimeout(() => controller.abort(), budgetMs);
    let idleTimer: NodeJS.Timeout | undefined;
    const touch = (): void => {
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => {
        silent = true;
        controller.abort();
      }, idleMs);
    };
    touch();
    try {
      return await attempt(controller.signal, attemptStart, touch);
    } catch (err) {
      // Aborts surface as AbortError or assorted body errors; our own timer firing is what they mean.
      if (controller.signal.aborted && !(err instanceof ModelError)) {
        const message = silent ? `Model server sent nothing for ${idleMs} ms` : 'Model call exceeded its deadline';
        throw new ModelError(message, 'timeout', { cause: err });
      }
      throw err;
    } finally {
      clearTimeout(deadlineTimer);
      clearTimeout(idleTimer);
      unlink();
    }
  }

  const run = <T>(
    deadline: number,
    attempt: Attempt<T>,
    mayRetry: () => boolean,
    apiKey: string | undefined,
    signal?: AbortSignal,
  ) =>
    runner.run(
      deadline,
      (budget, started) => withinDeadline(budget, attempt, started, signal),
      () => mayRetry() && !signal?.aborted,
      (err) => {
        const classified = classifyOpenAiError(err, apiKey !== undefined);
        if (apiKey !== undefined && isKeyRefusal(err)) options.onKeyRefused?.();
        return classified;
      },
    );

  async function readApiKey(): Promise<string | undefined> {
    if (!options.apiKey) return undefined;
    try {
      const key = await options.apiKey();
      return key === undefined || key === '' ? undefined : key;
    } catch (cause) {
      // The cause may be a Secrets Manager error; it names neither the secret's value nor, here, the key.
      throw new ModelError('Could not read the model server API key', 'server_error', { cause });
    }
  }

  async function post(
    request: ChatRequest,
    stream: boolean,
    apiKey: string | undefined,
    signal: AbortSignal,
  ): Promise<Response> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: stream ? 'text/event-stream' : 'application/json',
    };
    if (apiKey !== undefined) headers.authorization = `Bearer ${apiKey}`;
    const res = await fetch(url, {
      method: 'POST',
      headers,
      body: JSON.stringify({ model: options.model, ...toRequestBody(request, stream) }),
      signal,
      // A redirect is a misconfigured base URL: report it rather than re-send the body (and key) elsewhere.
      redirect: 'manual',
    });
    if (!res.ok) {
      const text = await res.text().catch(() => '');
      throw new HttpStatusError(
        res.status,
        // Redacted before truncation, so a cut can never leave part of the key behind.
        // And again after: parsing unescapes JSON (`\/`), which could rebuild a key the first pass did not match.
        redact(errorDetailOf(redact(text, apiKey)), apiKey),
        retryAfterMsOf(res.headers.get('retry-after')),
      );
    }
    return res;
  }

  const answeredBy = { modelId: options.modelId, billing: options.billing };

  return {
    id: options.modelId,
    billing: options.billing,
    circuitState: () => breaker.state(),

    async invoke(request, { deadline }) {
      const callStart = now();
      const apiKey = await readApiKey();
      const { value, attempts } = await run(
        deadline,
        async (signal, _attemptStart, touch) => {
          const res = await post(request, false, apiKey, signal);
          touch();
          // `parseChatCompletion` requires `usage`, as for SageMaker: an answer without it is `bad_response`.
          return parseChatCompletion(new Uint8Array(await res.arrayBuffer()));
        },
        () => true,
        apiKey,
      );
      const latencyMs = now() - callStart;
      // A whole-answer call delivers its first token with its last, so the wait for the first words is its latency.
      return { ...value, latencyMs, timeToFirstTokenMs: latencyMs, attempts, ...answeredBy };
    },

    async invokeStream(request, { deadline, onDelta, signal }) {
      const callStart = now();
      const apiKey = await readApiKey();
      let delivered = false;
      const { value, attempts } = await run(
        deadline,
        async (signal, attemptStart, touch) => {
          const res = await post(request, true, apiKey, signal);
          touch();
          if (!res.body) throw new ModelError('Model stream has no body', 'bad_response');
          const lines = createLineSplitter();
          const acc = createStreamAccumulator({ startedAt: attemptStart, now });
          // Line by line, so the deltas before an error event are delivered before it is thrown.
          const feed = (batch: readonly string[]): void => {
            for (const line of batch) {
              throwIfErrorEvent(line, apiKey);
              for (const delta of acc.push(encoder.encode(`${line}\n`))) {
                delivered = true;
                onDelta?.(delta);
              }
            }
          };
          for await (const bytes of res.body) {
            touch();
            feed(lines.push(bytes));
          }
          feed(lines.push(undefined));
          return acc.finish();
        },
        () => !delivered,
        apiKey,
        signal,
      );
      return { ...value, latencyMs: now() - callStart, attempts, ...answeredBy };
    },
  };
}

function chatCompletionsUrl(baseUrl: string): string {
  let parsed: URL;
  try {
    parsed = new URL(baseUrl);
  } catch {
    throw new ConfigError(['OpenAI-compatible model baseUrl is not a URL']);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new ConfigError([`OpenAI-compatible model baseUrl must be http(s), got ${parsed.protocol}`]);
  }
  if (parsed.search !== '' || parsed.hash !== '') {
    throw new ConfigError(['OpenAI-compatible model baseUrl must be the API root, without a query or fragment']);
  }
  if (parsed.username !== '' || parsed.password !== '') {
    // Credentials in the URL would end up in logs and error messages; the key belongs in `apiKey`.
    throw new ConfigError(['OpenAI-compatible model baseUrl must not carry credentials; pass the key as apiKey']);
  }
  return `${baseUrl.replace(/\/+$/, '')}/chat/completions`;
}

function isKeyRefusal(err: unknown): boolean {
  return err instanceof HttpStatusError && (err.status === 401 || err.status === 403);
}

/** Maps what an attempt threw to a `ModelError`, whether to retry, and the server's requested wait. */
function classifyOpenAiError(err: unknown, keySent: boolean): ClassifiedError & { retryAfterMs?: number } {
  if (err instanceof HttpStatusError) {
    const { status, detail } = err;
    const make = (reason: ModelError['reason'], retryable: boolean, message: string) => ({
      error: new ModelError(message, reason, { cause: err }),
      retryable,
    });
    if (status === 401 || status === 403) {
      const what = keySent ? 'refused the API key' : 'requires an API key and none is configured';
      // Never the server's text here: some servers echo the key they were given.
      return make('client_error', false, `Model server ${what} (HTTP ${status})`);
    }
    const message = (reason: string) => `Model server ${reason} (HTTP ${status})${detail ? `: ${detail}` : ''}`;
    if (status === 429) {
      return {
        ...make('throttled', true, message('throttled')),
        ...(err.retryAfterMs === undefined ? {} : { retryAfterMs: err.retryAfterMs }),
      };
    }
    if (status >= 500) return make('server_error', true, message('server_error'));
    return make('client_error', false, message('client_error'));
  }
  if (err instanceof ModelError) return classifyModelError(err);
  // fetch rejects with `TypeError('fetch failed')` (a body read with `TypeError('terminated')`) and puts the socket
  // error, with its `code`, in `cause`. Duck-typed: undici's TypeError may come from another realm (jest).
  const nested = typeof err === 'object' && err !== null ? (err as { cause?: unknown }).cause : undefined;
  const nestedCode = typeof nested === 'object' && nested !== null ? (nested as { code?: unknown }).code : undefined;
  const cause = typeof nestedCode === 'string' ? nested : err;
  const code = typeof cause === 'object' && cause !== null ? (cause as { code?: unknown }).code : undefined;
  if (typeof code === 'string' && UNDICI_TIMEOUT_CODES.has(code)) {
    return { error: new ModelError(`Model server timeout: ${code}`, 'timeout', { cause: err }), retryable: false };
  }
  if (code === 'UND_ERR_SOCKET') {
    return {
      error: new ModelError(`Model server connection failed: ${code}`, 'server_error', { cause: err }),
      retryable: true,
    };
  }
  return classifyModelError(cause);
}

/**
 * Splits a byte stream into complete lines (without their `\n`; a trailing `\r` stays for the accumulator to strip).
 * Chunk boundaries are arbitrary, even inside a UTF-8 character; `push(undefined)` flushes the tail at the end.
 */
function createLineSplitter(): { push(bytes: Uint8Array | undefined): string[] } {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let pending = '';
  return {
    push(bytes) {
      try {
        pending += bytes ? decoder.decode(bytes, { stream: true }) : decoder.decode();
      } catch (cause) {
        throw new ModelError('Model stream is not valid UTF-8', 'bad_response', { cause });
      }
      const lines = pending.split('\n');
      pending = bytes ? (lines.pop() ?? '') : '';
      return lines;
    },
  };
}

/**
 * A 200 stream can still fail: vLLM and OpenAI send `data: {"error":…}` when generation fails mid-stream, TGI
 * `data: {"error":"…"}`, llama.cpp an `error: {…}` line. Those are the server's faults (`server_error`, as SageMaker's
 * `ModelStreamError`), not malformed chunks; everything else is left to the accumulator.
 */
function throwIfErrorEvent(rawLine: string, apiKey: string | undefined): void {
  const detail = streamErrorOf(redact(rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine, apiKey));
  if (detail !== undefined) throw new ModelError(`Model stream error: ${redact(detail, apiKey)}`, 'server_error');
}

/** The message of an SSE error event, or undefined when `line` is not one. */
function streamErrorOf(line: string): string | undefined {
  if (line.startsWith('error:')) return errorDetailOf(line.slice(6).trim()) || 'unknown';
  if (!line.startsWith('data:')) return undefined;
  const payload = line.slice(5).trim();
  // Parse only lines that can be an error object; ordinary chunks are parsed once, by the accumulator.
  if (!payload.startsWith('{') || !payload.includes('"error"')) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(payload);
  } catch {
    return undefined; // the accumulator reports it as bad_response
  }
  if (typeof json !== 'object' || json === null) return undefined;
  const { error, object } = json as { error?: unknown; object?: unknown };
  if ((error === undefined || error === null) && object !== 'error') return undefined;
  return errorDetailOf(payload) || 'unknown';
}

/**
 * The human message in an error body: OpenAI/vLLM `{"error":{"message"}}`, TGI `{"error":"…"}`, older vLLM
 * `{"object":"error","message"}`, FastAPI `{"detail"}`; else the text itself. Truncated: bodies can be HTML pages.
 */
function errorDetailOf(text: string): string {
  let detail = text.trim();
  try {
    const json = JSON.parse(text) as { error?: unknown; message?: unknown; detail?: unknown } | null;
    const nested = typeof json?.error === 'object' && json.error !== null ? (json.error as { message?: unknown }) : {};
    const found = [nested.message, json?.error, json?.message, json?.detail].find((v) => typeof v === 'string');
    if (typeof found === 'string') detail = found;
  } catch {
    // not JSON: keep the text
  }
  return detail.length > MAX_DETAIL_CHARS ? `${detail.slice(0, MAX_DETAIL_CHARS)}…` : detail;
}

function redact(text: string, apiKey: string | undefined): string {
  return apiKey ? text.split(apiKey).join('[redacted]') : text;
}

/** `Retry-After` as milliseconds: delay-seconds or an HTTP date; undefined when absent or unreadable. */
function retryAfterMsOf(header: string | null): number | undefined {
  if (header === null) return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1_000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}
