import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FALLBACK_FUNCTION_ENV as F } from '#config/fallback-function-config';
import { DEFAULT_FALLBACK_MEMORY_MB, FALLBACK_ENDPOINT_NAME } from '#config/pipeline-config';
import type { ChatRequest } from '#model/chat-completions';
import { createFallbackClient } from '#model/fallback-client';
import { DEMO_MODEL_FILE_NAME, ensureDemoModel } from '../sandbox/model/demo-model';
import { bundleFallbackFunction, startFallbackFunction } from '../sandbox/model/fallback-function';
import { startWeightsS3StandIn } from '../sandbox/model/weights-s3-stand-in';
import { SWITCH_REQUEST } from './fallback-bench';
import { median } from './stats';
import { findTestModel } from './streaming-bench';

/**
 * Cold starts of the fallback model function (issue 16) on this machine: its handler bundled as deployed
 * (`sandbox/model/fallback-function.ts`), each run a fresh Node process behind the function-URL stand-in with an empty
 * weights directory, as a new execution environment. Per run: the bundle's module init (its `require`), the weights
 * download from the S3 stand-in (LOOPBACK: a local HTTP server, not S3; in Lambda the same bytes cross the network
 * from S3), the model load (node-llama-cpp: library, weights, context), and the first answer (the first request sent
 * as soon as the host listens, through the worker's fallback client: it waits for the load, then generates).
 * Models: the generated demo GGUF and, when present, `../shared/models/*.gguf`.
 */
export interface FallbackFunctionBenchOptions {
  readonly rootDir: string;
  /** Fresh-process runs per model. @default 5 */
  readonly runs?: number;
  /** Epoch ms; runs that would start after it are skipped. */
  readonly deadline: number;
  readonly progress?: (line: string) => void;
}

export interface ColdStartRun {
  /** `require()` of the bundle: module init, the model load started but not awaited. */
  readonly initMs: number;
  /** Weights from the stand-in into the run's empty weights directory (loopback). */
  readonly downloadMs: number;
  /** node-llama-cpp: library, model and context. */
  readonly loadMs: number;
  /** Load start (module init) → model ready: download + load + the config and logging around them. */
  readonly readyMs: number;
  /** The first request sent (as the host listens) → its whole answer. */
  readonly firstAnswerMs: number;
  /** Process spawned → first answer: what the first caller of a new environment waits, Node's start included. */
  readonly spawnToAnswerMs: number;
  readonly completionTokens: number;
}

export interface ColdStartRow {
  readonly model: string;
  readonly weightsBytes: number;
  readonly runs: readonly ColdStartRun[];
  /** Medians over the runs. */
  readonly median: Omit<ColdStartRun, 'completionTokens'>;
}

export interface FallbackFunctionResult {
  readonly bundleBytes: number;
  readonly rows: readonly ColdStartRow[];
  readonly skipped: readonly string[];
  /** What the numbers are not. */
  readonly notes: readonly string[];
  readonly request: { readonly maxTokens: number; readonly temperature: number };
  readonly elapsedMs: number;
}

const BUCKET = 'bench-models';
const REQUEST: ChatRequest = { ...SWITCH_REQUEST, maxTokens: 32 };

export async function runFallbackFunctionBench(options: FallbackFunctionBenchOptions): Promise<FallbackFunctionResult> {
  const started = performance.now();
  const progress = options.progress ?? (() => undefined);
  const runs = options.runs ?? 5;
  const work = mkdtempSync(path.join(os.tmpdir(), 'fallback-fn-bench-'));
  // The worker's client signs with the default credential chain; the stand-ins only check that requests are signed.
  process.env.AWS_ACCESS_KEY_ID ??= 'bench';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'bench';
  try {
    progress('fallback function: bundling the handler as deployed');
    mkdirSync(path.join(work, 'fn'));
    const built = await bundleFallbackFunction(options.rootDir, path.join(work, 'fn'));
    const demo = await ensureDemoModel(path.join(options.rootDir, '.sandbox-data', 'models', DEMO_MODEL_FILE_NAME));
    const shared = findTestModel(options.rootDir);
    const skipped: string[] = shared ? [] : [`no ../shared/models/*.gguf beside ${options.rootDir}`];
    const rows: ColdStartRow[] = [];
    for (const model of [demo, ...(shared ? [shared] : [])]) {
      const s3 = await startWeightsS3StandIn({ objects: [{ bucket: BUCKET, key: path.basename(model), file: model }] });
      const samples: ColdStartRun[] = [];
      try {
        for (let run = 0; run < runs; run++) {
          if (Date.now() > options.deadline) {
            skipped.push(`${path.basename(model)}: runs ${run + 1}–${runs}, time budget spent`);
            break;
          }
          progress(`fallback function: ${path.basename(model)}, cold start ${run + 1}/${runs}`);
          const weightsDir = path.join(work, `tmp-${rows.length}-${run}`);
          mkdirSync(weightsDir);
          samples.push(
            await coldStart(built, {
              AWS_REGION: 'us-east-1',
              AWS_ACCESS_KEY_ID: 'bench',
              AWS_SECRET_ACCESS_KEY: 'bench',
              AWS_ENDPOINT_URL_S3: s3.url,
              POWERTOOLS_SERVICE_NAME: 'fallback-model',
              [F.weightsS3Uri]: `s3://${BUCKET}/${path.basename(model)}`,
              [F.weightsDir]: weightsDir,
              [F.endpointName]: FALLBACK_ENDPOINT_NAME,
            }),
          );
          rmSync(weightsDir, { recursive: true, force: true });
        }
      } finally {
        await s3.close();
      }
      if (samples.length > 0) {
        const of = (pick: (r: ColdStartRun) => number): number => median(samples.map(pick));
        rows.push({
          model: path.basename(model),
          weightsBytes: statSync(model).size,
          runs: samples,
          median: {
            initMs: of((r) => r.initMs),
            downloadMs: of((r) => r.downloadMs),
            loadMs: of((r) => r.loadMs),
            readyMs: of((r) => r.readyMs),
            firstAnswerMs: of((r) => r.firstAnswerMs),
            spawnToAnswerMs: of((r) => r.spawnToAnswerMs),
          },
        });
      }
    }
    return {
      bundleBytes: built.bundleBytes,
      rows,
      skipped,
      notes: [
        'weights download is from a LOOPBACK stand-in (a local HTTP server), not S3: in Lambda it is bound by S3 and the function network, and grows with the model size; measure it there (the "fallback model loaded" log line)',
        `x86-64 here with ${os.availableParallelism()} CPUs shared with other work; Lambda arm64 at ${DEFAULT_FALLBACK_MEMORY_MB} MB has about 2 vCPUs, no page cache for the new /tmp file, and adds its own sandbox start (the REPORT line's Init Duration covers module init only)`,
        'the demo model is tiny (random weights): a real 0.5–1.5B GGUF (300 MB–1 GB) loads and generates far slower',
      ],
      request: { maxTokens: REQUEST.maxTokens, temperature: REQUEST.temperature },
      elapsedMs: performance.now() - started,
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function coldStart(
  built: Awaited<ReturnType<typeof bundleFallbackFunction>>,
  env: Record<string, string>,
): Promise<ColdStartRun> {
  const spawnedAt = performance.now();
  const fn = await startFallbackFunction(built, env, 60_000);
  try {
    const client = createFallbackClient({
      endpointUrl: fn.url,
      endpointName: FALLBACK_ENDPOINT_NAME,
      region: 'us-east-1',
      modelId: 'fallback-cpu',
      memoryMb: DEFAULT_FALLBACK_MEMORY_MB,
      timeoutMs: 60_000,
    });
    const sentAt = performance.now();
    const answer = await client.invoke(REQUEST, { deadline: Date.now() + 60_000 });
    const answeredAt = performance.now();
    const loaded = await fn.waitForLog('fallback model loaded', 5_000);
    return {
      initMs: fn.initMs,
      downloadMs: Number(loaded.downloadMs),
      loadMs: Number(loaded.loadMs),
      readyMs: Number(loaded.readyMs),
      firstAnswerMs: answeredAt - sentAt,
      spawnToAnswerMs: answeredAt - spawnedAt,
      completionTokens: answer.usage.completionTokens,
    };
  } finally {
    await fn.close();
  }
}

/** The table `npm run bench -- --only fallback-function` prints. */
export function fallbackFunctionReport(result: FallbackFunctionResult): string {
  const ms = (v: number): string => (Number.isFinite(v) ? v.toFixed(0) : '–');
  const lines = [
    `Fallback function cold starts (bundle ${(result.bundleBytes / 1024).toFixed(0)} KB, node-llama-cpp external; medians of fresh processes; first answer: ${result.request.maxTokens} tokens at temperature ${result.request.temperature})`,
    '| model | weights | runs | module init | download (loopback) | model load | init → ready | first answer | spawn → answer |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...result.rows.map(
      (r) =>
        `| ${r.model} | ${(r.weightsBytes / 1024 / 1024).toFixed(1)} MiB | ${r.runs.length} | ${ms(r.median.initMs)} ms | ${ms(r.median.downloadMs)} ms | ${ms(r.median.loadMs)} ms | ${ms(r.median.readyMs)} ms | ${ms(r.median.firstAnswerMs)} ms | ${ms(r.median.spawnToAnswerMs)} ms |`,
    ),
    ...result.skipped.map((s) => `skipped: ${s}`),
    ...result.notes.map((n) => `note: ${n}`),
  ];
  return lines.join('\n');
}
