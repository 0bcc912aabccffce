import { resolve } from 'node:path';
import type { ModelEngine } from '#local-model/engine';
import { createLlamaEngine } from '#local-model/llama-engine';
import { DEMO_MODEL_FILE_NAME, DEMO_MODEL_MAX_TOKENS, ensureDemoModel } from './demo-model';
import { createInstantEngine } from './instant-engine';
import { type RunningModelServer, startModelServer } from './model-server';

/**
 * Starts the sandbox's SageMaker stand-in: picks the engine, makes sure a model file exists, serves HTTP.
 * Must run under tsx/Node ESM-capable loading (it reaches node-llama-cpp); from jest, start `server-main.ts` as a
 * child process instead.
 */
export interface LocalModelOptions {
  /** `llama` runs a GGUF with node-llama-cpp; `instant` is the echo stand-in with no model at all. @default 'llama' */
  engine?: 'llama' | 'instant';
  /** GGUF to serve. @default the generated demo model under `.sandbox-data/models/` (written if absent) */
  modelPath?: string;
  port?: number;
  host?: string;
  endpointName?: string;
  contextSize?: number;
  threads?: number;
  concurrency?: number;
  /** Requests asking for more tokens are cut to this. @default 512, or `DEMO_MODEL_MAX_TOKENS` for the demo model */
  maxTokensLimit?: number;
  /** Milliseconds between streamed chunks (`MODEL_STREAM_PACE_MS`, see `stream-pace.ts`). @default 0 */
  streamPaceMs?: number;
  onLoadProgress?: (progress: number) => void;
}

export interface LocalModel extends RunningModelServer {
  engine: string;
  modelPath?: string;
  loadMs: number;
}

export const DEFAULT_DEMO_MODEL_PATH = resolve('.sandbox-data', 'models', DEMO_MODEL_FILE_NAME);

export async function startLocalModel(options: LocalModelOptions = {}): Promise<LocalModel> {
  let engine: ModelEngine;
  let modelPath: string | undefined;
  let loadMs = 0;
  // The generated demo model's answers are noise: kept short unless the caller asks otherwise.
  const maxTokensLimit =
    options.maxTokensLimit ?? (options.engine !== 'instant' && !options.modelPath ? DEMO_MODEL_MAX_TOKENS : undefined);
  if (options.engine === 'instant') {
    engine = createInstantEngine(options.concurrency ? { concurrency: options.concurrency } : {});
  } else {
    modelPath = options.modelPath ?? (await ensureDemoModel(DEFAULT_DEMO_MODEL_PATH));
    const llama = await createLlamaEngine({
      modelPath,
      ...(options.contextSize ? { contextSize: options.contextSize } : {}),
      ...(options.threads ? { threads: options.threads } : {}),
      ...(options.concurrency ? { concurrency: options.concurrency } : {}),
      ...(options.onLoadProgress ? { onLoadProgress: options.onLoadProgress } : {}),
    });
    engine = llama;
    loadMs = llama.loadMs;
  }
  const server = await startModelServer({
    engine,
    ...(options.port === undefined ? {} : { port: options.port }),
    ...(options.host ? { host: options.host } : {}),
    ...(options.endpointName ? { endpointName: options.endpointName } : {}),
    ...(maxTokensLimit ? { maxTokensLimit } : {}),
    ...(options.streamPaceMs ? { streamPaceMs: options.streamPaceMs } : {}),
  });
  return {
    url: server.url,
    engine: engine.name,
    ...(modelPath ? { modelPath } : {}),
    loadMs,
    async close() {
      await server.close();
      await engine.close();
    },
  };
}
