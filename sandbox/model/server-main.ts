import { ENV } from '#config/env-names';
import { startLocalModel } from './local-model';
import { streamPaceFromEnv } from './stream-pace';

/**
 * Entry point of the local model server as its own process (`npx tsx sandbox/model/server-main.ts`).
 * stdout is a JSON-lines protocol: `{"event":"loading","progress":p}` while the model loads, then exactly one
 * `{"event":"ready","url",...}` line; logs go to stderr. Configuration (sandbox-only variables):
 * MODEL_ENGINE (`llama` | `instant`, or the `--instant` flag), MODEL_PATH, MODEL_SERVER_PORT (default 0 = any),
 * MODEL_ENDPOINT_NAME, MODEL_CONTEXT_SIZE, MODEL_THREADS, MODEL_CONCURRENCY, MODEL_MAX_TOKENS, MODEL_STREAM_PACE_MS (ms between streamed chunks).
 */
function intFromEnv(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  return n;
}

const emit = (line: object): void => {
  process.stdout.write(`${JSON.stringify(line)}\n`);
};

async function main(): Promise<void> {
  const engine = process.argv.includes('--instant') || process.env.MODEL_ENGINE === 'instant' ? 'instant' : 'llama';
  let lastReported = -1;
  const model = await startLocalModel({
    engine,
    ...(process.env.MODEL_PATH ? { modelPath: process.env.MODEL_PATH } : {}),
    ...(process.env[ENV.modelEndpointName] ? { endpointName: process.env[ENV.modelEndpointName] } : {}),
    port: intFromEnv('MODEL_SERVER_PORT') ?? 0,
    contextSize: intFromEnv('MODEL_CONTEXT_SIZE'),
    threads: intFromEnv('MODEL_THREADS'),
    concurrency: intFromEnv('MODEL_CONCURRENCY'),
    maxTokensLimit: intFromEnv('MODEL_MAX_TOKENS'),
    streamPaceMs: streamPaceFromEnv(process.env),
    onLoadProgress: (progress) => {
      const rounded = Math.floor(progress * 10) / 10;
      if (rounded > lastReported) {
        lastReported = rounded;
        emit({ event: 'loading', progress: rounded });
      }
    },
  });
  emit({ event: 'ready', url: model.url, engine: model.engine, modelPath: model.modelPath, loadMs: model.loadMs });
  const shutdown = (): void => {
    model.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

main().catch((err: unknown) => {
  process.stderr.write(`[model-server] failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
