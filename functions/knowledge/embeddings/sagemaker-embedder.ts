import { InvokeEndpointCommand, type InvokeEndpointCommandOutput } from '@aws-sdk/client-sagemaker-runtime';
import { classifyModelError } from '#model/classify-error';
import * as z from '#shared/zod';
import { withTimeout } from './attempts';
import { batchesOf } from './batches';
import { DEFAULT_MAX_CHARS, type Embedder, EmbeddingError } from './embedder';
import { configProblems } from './embedder-config';
import { inputText } from './input-text';
import { offContract, parseJsonBody, unitVectors } from './response-vectors';
import { saysInputTooLong } from './server-message';

/**
 * An `Embedder` over a SageMaker real-time endpoint (`InvokeEndpoint`).
 *
 * Contract (the Hugging Face TEI container's and the HF inference toolkit's feature-extraction convention for a
 * sentence-embedding model): request `{"inputs": string[]}` as `application/json`; response either `number[][]`
 * (one vector per input, in order: TEI) or `{"embeddings": number[][]}`. A token-level answer (`number[][][]`, a
 * plain transformer without pooling) is `bad_response` with that diagnosis. Vectors are L2-normalised here whatever
 * the container did.
 *
 * Retries are the SDK client's (its `maxAttempts` and retry mode), not repeated here; failures are classified as the
 * chat model's SageMaker client classifies them (`classifyModelError`): throttling → `throttled`, 5xx and the
 * container's own 5xx (`ModelError`) → `unavailable`, the container's 413 or a "too long" message → `too_long`, other
 * 4xx → `rejected`; `timeoutMs` per request (or the caller's signal) → `timeout`.
 */
export interface SageMakerEmbedderOptions {
  readonly endpointName: string;
  readonly dimensions: number;
  readonly model: string;
  readonly client: {
    send(command: InvokeEndpointCommand, options?: { abortSignal?: AbortSignal }): Promise<InvokeEndpointCommandOutput>;
  };
  /** Per request. @default 10_000 */
  readonly timeoutMs?: number;
  /** Inputs per request; TEI's own default `max_client_batch_size` is 32. @default 32 */
  readonly maxBatch?: number;
  /** Characters sent of one input (prefix included); the rest is cut. @default DEFAULT_MAX_CHARS */
  readonly maxChars?: number;
  /** Prepended to query / document texts, e.g. 'query: ' / 'passage: ' for E5 models. @default '' */
  readonly queryPrefix?: string;
  readonly documentPrefix?: string;
}

const vectorsSchema = z.array(z.array(z.number()));
const responseSchema = z.union([vectorsSchema, z.object({ embeddings: vectorsSchema })]);
const JSON_TYPE = 'application/json';

export function createSageMakerEmbedder(options: SageMakerEmbedderOptions): Embedder {
  const problems = configProblems('SageMaker embedder');
  problems.text('endpointName', options.endpointName);
  problems.text('model', options.model);
  problems.integer('dimensions', options.dimensions, 1, 65_536);
  problems.integer('timeoutMs', options.timeoutMs, 1);
  problems.integer('maxBatch', options.maxBatch, 1, 2_048);
  problems.integer('maxChars', options.maxChars, 1);
  problems.throwIfAny();

  const source = `Embedding endpoint ${options.endpointName}`;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxBatch = options.maxBatch ?? 32;
  const maxChars = options.maxChars ?? DEFAULT_MAX_CHARS;
  const encoder = new TextEncoder();

  async function invoke(inputs: readonly string[], abortSignal: AbortSignal): Promise<Float32Array[]> {
    let out: InvokeEndpointCommandOutput;
    try {
      out = await options.client.send(
        new InvokeEndpointCommand({
          EndpointName: options.endpointName,
          ContentType: JSON_TYPE,
          Accept: JSON_TYPE,
          Body: encoder.encode(JSON.stringify({ inputs })),
        }),
        { abortSignal },
      );
    } catch (err) {
      // Our own abort (timer or caller) is read by `withTimeout`; everything else is the endpoint's answer.
      if (abortSignal.aborted) throw err;
      throw classify(err, source);
    }
    if (!out.Body) throw new EmbeddingError('bad_response', `${source} answered without a body`);
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(out.Body);
    } catch (cause) {
      throw new EmbeddingError('bad_response', `${source} answered a body that is not UTF-8`, { cause });
    }
    const json = parseJsonBody(text, source);
    if (isTokenLevel(json)) {
      throw new EmbeddingError(
        'bad_response',
        `${source} answered token-level features (number[][][]): deploy a pooled sentence-embedding model (TEI)`,
      );
    }
    const parsed = responseSchema.safeParse(json);
    if (!parsed.success) throw offContract(source, parsed.error, 'number[][] or { embeddings: number[][] }');
    const vectors = Array.isArray(parsed.data) ? parsed.data : parsed.data.embeddings;
    return unitVectors(vectors, inputs.length, options.dimensions, source);
  }

  return {
    model: options.model,
    dimensions: options.dimensions,
    async embed(texts, purpose, { signal } = {}) {
      const prefix = (purpose === 'query' ? options.queryPrefix : options.documentPrefix) ?? '';
      const inputs = texts.map((text) => inputText(text, maxChars, prefix));
      const vectors: Float32Array[] = [];
      for (const batch of batchesOf(inputs, maxBatch)) {
        vectors.push(...(await withTimeout(source, timeoutMs, signal, (abortSignal) => invoke(batch, abortSignal))));
      }
      return vectors;
    },
  };
}

/** `[[[…]]]`: per-token vectors of each input rather than one pooled vector. */
function isTokenLevel(json: unknown): boolean {
  return Array.isArray(json) && Array.isArray(json[0]) && Array.isArray(json[0][0]);
}

function classify(err: unknown, source: string): EmbeddingError {
  const { error } = classifyModelError(err);
  const shape = typeof err === 'object' && err !== null ? (err as { OriginalStatusCode?: unknown }) : {};
  const detail = err instanceof Error && err.message !== '' ? err.message : error.message;
  const make = (code: EmbeddingError['code'], what: string) =>
    new EmbeddingError(code, `${source} ${what}: ${detail}`, { cause: err });
  switch (error.reason) {
    case 'timeout':
      return make('timeout', 'timed out');
    case 'throttled':
      return make('throttled', 'throttled');
    case 'client_error':
      if (shape.OriginalStatusCode === 413 || saysInputTooLong(detail)) {
        return make('too_long', 'refused an input as too long; lower maxChars');
      }
      return make('rejected', 'refused the request');
    default:
      return make('unavailable', 'failed');
  }
}
