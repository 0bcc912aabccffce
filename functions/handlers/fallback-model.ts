import { stat } from 'node:fs/promises';
import os from 'node:os';
import type { Writable } from 'node:stream';
import type { Context, LambdaFunctionURLEvent } from 'aws-lambda';
import { type FallbackFunctionConfig, loadFallbackFunctionConfig } from '#config/fallback-function-config';
import { createLlamaEngine } from '#local-model/llama-engine';
import {
  answerProblem,
  createModelRoutes,
  type ModelRequest,
  type ModelRoutes,
  type ResponseWriter,
  RouteProblem,
} from '#local-model/model-routes';
import { type WeightsFile, weightsFromS3 } from '#local-model/weights-from-s3';
import { logger } from '#shared/powertools';

/**
 * The fallback model function (issue 16): a small GGUF on the function's CPUs (node-llama-cpp), behind a Lambda
 * function URL (AWS_IAM, RESPONSE_STREAM), serving the SageMaker runtime contract of the sandbox's model server
 * (`#local-model/model-routes`), so the worker's fallback client speaks to it as to the sandbox's second engine.
 * - The model is loaded once per execution environment: the load starts while the module initialises (top-level
 *   await is not available in a CommonJS bundle) and each request awaits it. Weights come from S3 into /tmp
 *   (`weights-from-s3.ts`) unless FALLBACK_WEIGHTS_PATH names a local file.
 * - One generation at a time: Lambda sends an environment one request at a time. llama.cpp gets every vCPU.
 * - A load that fails (settings, S3, a bad file) is logged and answered 503 `ServiceUnavailable` in SageMaker's error
 *   shape, and the next request tries again: the function never crash-loops on a bad setting, and the worker's
 *   fallback client sees a server error it counts against the fallback's circuit.
 * `awslambda` is the global the Node managed runtime provides (typed by @types/aws-lambda).
 */

/** What an invocation needs once the model is in memory. */
interface LoadedModel {
  readonly routes: ModelRoutes;
}

let loading: Promise<LoadedModel> | undefined = startLoading();

function startLoading(): Promise<LoadedModel> {
  const started = performance.now();
  const attempt = load(started);
  // Rejections are answered per request; this keeps an unawaited failure at init from being "unhandled".
  attempt.catch(() => undefined);
  return attempt;
}

async function load(started: number): Promise<LoadedModel> {
  const config = loadFallbackFunctionConfig(process.env);
  const weights = await weightsOf(config);
  const threads = os.availableParallelism();
  const engine = await createLlamaEngine({
    modelPath: weights.path,
    contextSize: config.contextSize,
    threads,
    concurrency: 1,
  });
  logger.info('fallback model loaded', {
    modelPath: weights.path,
    weightsBytes: weights.bytes,
    downloaded: weights.downloaded,
    downloadMs: Math.round(weights.ms),
    ranges: weights.ranges,
    retries: weights.retries,
    loadMs: engine.loadMs,
    readyMs: Math.round(performance.now() - started),
    threads,
    contextSize: config.contextSize,
  });
  const routes = createModelRoutes({
    engine,
    endpointName: config.endpointName,
    maxTokensLimit: config.maxTokens,
    defaultMaxTokens: Math.min(256, config.maxTokens),
    // Lambda never sends an environment a second request while one runs.
    maxQueue: 0,
    logError: (message, err) => logger.error(message, { error: err as Error }),
  });
  return { routes };
}

/** The GGUF on local disk, and how it got there. */
async function weightsOf(config: FallbackFunctionConfig): Promise<WeightsFile & { readonly ms: number }> {
  const { weights } = config;
  const started = performance.now();
  if (weights.kind === 'file') {
    const { size } = await stat(weights.path);
    return { path: weights.path, bytes: size, downloaded: false, ranges: 0, retries: 0, ms: 0 };
  }
  const file = await weightsFromS3({
    bucket: weights.bucket,
    key: weights.key,
    dir: config.weightsDir,
    env: process.env,
  });
  return { ...file, ms: performance.now() - started };
}

const MODEL_NOT_READY = new RouteProblem(
  503,
  'ServiceUnavailable',
  'model_not_ready',
  'The fallback model could not be loaded; see the function log.',
);

/** The stack's scheduled keep-warm invocation (an EventBridge rule's constant input), not a function-URL request. */
export interface WarmUpEvent {
  readonly warmUp: true;
}

export function isWarmUp(event: unknown): event is WarmUpEvent {
  return typeof event === 'object' && event !== null && (event as { warmUp?: unknown }).warmUp === true;
}

/** The loaded model, or undefined when the load failed (logged; the next request tries again). */
async function loadedModel(context: Context): Promise<LoadedModel | undefined> {
  try {
    loading ??= startLoading();
    return await loading;
  } catch (err) {
    loading = undefined;
    logger.error('fallback model failed to load', { error: err as Error, awsRequestId: context.awsRequestId });
    return undefined;
  }
}

export const handler = awslambda.streamifyResponse(
  async (event: LambdaFunctionURLEvent | WarmUpEvent, responseStream: Writable, context: Context): Promise<void> => {
    // Keep-warm: an environment with the model loaded, so the first member the primary cannot serve (an outage, a
    // scaled-to-zero endpoint waking) does not wait for a download and a load. It answers nothing.
    if (isWarmUp(event)) {
      const ready = (await loadedModel(context)) !== undefined;
      logger.info('fallback model kept warm', { ready });
      responseStream.end();
      return;
    }
    const response = lambdaResponse(responseStream);
    const request = requestOf(event, responseStream);
    const model = await loadedModel(context);
    if (!model) answerProblem(request.path, response, MODEL_NOT_READY);
    else await model.routes(request, response);
    await response.finished();
  },
);

/** A function-URL event (payload format 2.0) as the routes read a request. */
function requestOf(event: LambdaFunctionURLEvent, responseStream: Writable): ModelRequest {
  const body =
    event.body === undefined ? Buffer.alloc(0) : Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
  const hungUp = new AbortController();
  responseStream.once('close', () => {
    if (!responseStream.writableFinished) hungUp.abort();
  });
  return {
    method: event.requestContext.http.method,
    path: event.rawPath,
    headers: event.headers,
    readBody: async (limit) => (body.length > limit ? undefined : body),
    signal: hungUp.signal,
  };
}

/**
 * The routes' writer on Lambda's response stream: the status and headers go first, as the prelude
 * `HttpResponseStream.from` writes, then the body as written.
 */
function lambdaResponse(responseStream: Writable): ResponseWriter & { finished(): Promise<void> } {
  let out: Writable | undefined;
  const body = (): Writable => {
    if (!out) throw new Error('writeHead must come before the body');
    return out;
  };
  return {
    writeHead(statusCode, headers) {
      out = awslambda.HttpResponseStream.from(responseStream, { statusCode, headers });
    },
    write: (chunk) => body().write(chunk),
    end: (chunk) => (chunk === undefined ? body().end() : body().end(chunk)),
    finished: () =>
      new Promise<void>((resolve) => {
        if (responseStream.writableFinished || responseStream.destroyed) resolve();
        else responseStream.once('close', () => resolve()).once('finish', () => resolve());
      }),
  };
}
