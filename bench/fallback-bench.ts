import path from 'node:path';
import { createModelClient } from '#composition/model-composition';
import {
  DEFAULT_FALLBACK_MEMORY_MB,
  DEFAULT_FALLBACK_MODEL_ID,
  DEFAULT_FALLBACK_TIMEOUT_MS,
  FALLBACK_ENDPOINT_NAME,
} from '#config/pipeline-config';
import { loadWorkerConfig } from '#config/worker-config';
import { ModelError } from '#core/errors';
import type { ChatRequest } from '#model/chat-completions';
import type { CircuitState } from '#model/circuit-breaker';
import { createFallbackClient } from '#model/fallback-client';
import type { ModelClient } from '#model/model-client';
import { DEMO_MODEL_FILE_NAME, ensureDemoModel } from '../sandbox/model/demo-model';
import { type LocalModel, startLocalModel } from '../sandbox/model/local-model';
import { type ModelSwitch, startModelSwitch } from '../sandbox/model-switch';
import { type LatencySummary, median, summarise } from './stats';
import { findTestModel } from './streaming-bench';

/**
 * The fallback model (issue 16, offline mode), three measurements:
 * 1. Switch-over: the worker's real composed client (`createModelClient` from a worker config whose
 *    MODEL_ENDPOINT_URL is the sandbox's primary switch, `sandbox/model-switch.ts`, and FALLBACK_MODEL_ENDPOINT_URL a
 *    second local engine). The primary is healthy, is taken down (the switch answers 503 ServiceUnavailable), and
 *    comes back up. One call at a time: each call's latency while the breaker is closed (retries against the
 *    failing primary, then the fallback), the breaker opening → the first fallback answer, the calls once it is open,
 *    and the primary's return after the breaker's cool-down.
 * 2. Fallback tokens/s: the fallback client (`createFallbackClient`) on the SageMaker contract and on the
 *    OpenAI-compatible route (`POST /v1/chat/completions` of the same local model server), streamed, per model: the
 *    generated demo model and, when present, `../shared/models/*.gguf` (a real tokenizer).
 * The fallback function's cold start (its bundle, download and model load in fresh processes) is
 * `--only fallback-function` (`fallback-function-bench.ts`).
 *
 * Both engines run in this process (node-llama-cpp generates on its own threads, one each) and are warmed up before
 * anything is timed, so (1) measures the switch, not a model load. Clients read a fractional-millisecond clock, so
 * a TTFT of a few milliseconds is not rounded away.
 */
export interface FallbackBenchOptions {
  readonly rootDir: string;
  /** Epoch ms; part 2 skips what would start after it. */
  readonly deadline: number;
  readonly progress?: (line: string) => void;
  /** Calls timed once the breaker is open. @default 10 */
  readonly openCalls?: number;
  /** Streamed calls per model and route in part 2, after one warm-up each. @default 6 */
  readonly throughputCalls?: number;
}

/** Who answered one call through the composed client. */
export type AnsweredBy = 'primary' | 'fallback' | 'error';

export interface SwitchCall {
  readonly latencyMs: number;
  readonly answeredBy: AnsweredBy;
  /** Attempts of the model that answered (the primary's retries are in `primaryRefused`). */
  readonly attempts?: number;
  /** The primary's attempts the switch answered 503 during this call. */
  readonly primaryRefused: number;
  /** The composition's (the primary's) breaker after the call. */
  readonly circuitAfter: CircuitState;
  /** Set when the call failed: the `ModelError` reason, or the error's message. */
  readonly error?: string;
}

export interface SwitchOverResult {
  /** The GGUF both engines serve. */
  readonly model: string;
  /** The primary through the composition before it is taken down. */
  readonly healthy: LatencySummary;
  /** (a) The calls from taking the primary down until its breaker opened, in order. */
  readonly closedCalls: readonly SwitchCall[];
  /** Primary taken down → the breaker opened; undefined when it never opened. */
  readonly downToOpenMs?: number;
  /** Primary taken down → the first answer from the fallback. */
  readonly downToFirstFallbackMs?: number;
  /** (b) The breaker opened → the fallback's answer to the call that opened it. */
  readonly openToFallbackMs?: number;
  /** (c) Calls while the breaker is open. */
  readonly open: LatencySummary;
  readonly openAnsweredByFallback: number;
  /** Primary calls (503s) made while the breaker was open: 0 when an open breaker refuses without a network call. */
  readonly openPrimaryCalls: number;
  readonly recovery: RecoveryResult;
  readonly elapsedMs: number;
}

/**
 * The primary back up. The breaker only lets a probe through after its cool-down (30 s by default, and not a setting
 * of `createModelClient`); the bench moves the clients' clock through it in 250 ms steps instead of sitting idle, and
 * times the first call after it for real.
 */
export interface RecoveryResult {
  /** Breaker opened → half-open (its cool-down), to within one 250 ms step; clock skipped, not waited. */
  readonly coolDownMs?: number;
  /** Primary back up → first primary answer: the rest of the cool-down (skipped) plus the real time. */
  readonly upToPrimaryMs?: number;
  /** The half-open probe call: latency and who answered. */
  readonly probe?: SwitchCall;
  readonly circuitAfterProbe?: CircuitState;
}

export type FallbackRoute = 'sagemaker' | 'openai';

export interface ThroughputRow {
  /** The GGUF's file name. */
  readonly model: string;
  readonly route: FallbackRoute;
  readonly calls: number;
  readonly errors: number;
  /** Prompt tokens by the model's own tokenizer (the chat template included). */
  readonly promptTokensMedian: number;
  readonly completionTokensMedian: number;
  /** Successful attempt's start → first content delta. */
  readonly ttftMedianMs: number;
  readonly latencyMedianMs: number;
  /** Completion tokens ÷ the whole call: what a member waits per token. */
  readonly tokensPerSecMedian: number;
  /** Completion tokens after the first ÷ the time after the first token: the engine's generation rate. */
  readonly decodeTokensPerSecMedian: number;
}

export interface FallbackResult {
  readonly switchOver: SwitchOverResult;
  readonly throughput: readonly ThroughputRow[];
  /** Why a model of part 2 was left out (no shared GGUF, time budget). */
  readonly throughputSkipped: readonly string[];
  /** Request settings of part 2. */
  readonly throughputRequest: { readonly maxTokens: number; readonly temperature: number };
  readonly elapsedMs: number;
}

const PRIMARY_MODEL_ID = 'private-llm-int8';
const FALLBACK_MODEL_ID = DEFAULT_FALLBACK_MODEL_ID;
/** A sandbox worker invocation (60 s) less the runtime's 5 s model margin, as `worker-runtime.ts` sets it. */
const WORKER_DEADLINE_MS = 55_000;
/** Closed-breaker calls before the bench gives up on the breaker opening (it opens after 5 by default). */
const MAX_CLOSED_CALLS = 12;
const HEALTHY_CALLS = 5;
const COOL_DOWN_STEP_MS = 250;
/** Longest cool-down the bench skips through before it reports the breaker as stuck open. */
const MAX_COOL_DOWN_MS = 10 * 60_000;
const REGION = 'us-east-1';

/** The question the switch-over and the fallback function's cold starts ask. */
export const SWITCH_REQUEST: ChatRequest = {
  messages: [
    { role: 'system', content: 'You are the company assistant. Answer concisely.' },
    { role: 'user', content: '报销流程是什么？How do I file an expense report?' },
  ],
  maxTokens: 48,
  temperature: 0,
};
/** As §4 of docs/PERFORMANCE.md: 128 tokens at temperature 0. */
const THROUGHPUT_REQUEST: ChatRequest = { ...SWITCH_REQUEST, maxTokens: 128 };

export async function runFallbackBench(options: FallbackBenchOptions): Promise<FallbackResult> {
  const started = performance.now();
  const progress = options.progress ?? (() => undefined);
  // The SDK's default credential chain reads the env: static sandbox keys, so it never looks for an instance role.
  process.env.AWS_ACCESS_KEY_ID ??= BENCH_ENV.AWS_ACCESS_KEY_ID;
  process.env.AWS_SECRET_ACCESS_KEY ??= BENCH_ENV.AWS_SECRET_ACCESS_KEY;
  const demoPath = await ensureDemoModel(path.join(options.rootDir, '.sandbox-data', 'models', DEMO_MODEL_FILE_NAME));
  const switchOver = await runSwitchOver(demoPath, options.openCalls ?? 10, progress);
  const throughput: ThroughputRow[] = [];
  const throughputSkipped: string[] = [];
  const shared = findTestModel(options.rootDir);
  const models = [demoPath, ...(shared ? [shared] : [])];
  if (!shared) throughputSkipped.push(`no ../shared/models/*.gguf beside ${options.rootDir}`);
  for (const modelPath of models) {
    if (Date.now() > options.deadline) {
      throughputSkipped.push(`${path.basename(modelPath)}: time budget spent`);
      continue;
    }
    progress(`fallback: tokens/s of ${path.basename(modelPath)}, SageMaker contract and OpenAI route`);
    throughput.push(...(await runThroughput(modelPath, options.throughputCalls ?? 6)));
  }
  return {
    switchOver,
    throughput,
    throughputSkipped,
    throughputRequest: { maxTokens: THROUGHPUT_REQUEST.maxTokens, temperature: THROUGHPUT_REQUEST.temperature },
    elapsedMs: performance.now() - started,
  };
}

/**
 * The clients' clock: fractional milliseconds on the epoch scale. `skip` moves it forward as waiting would (the
 * breaker's cool-down); `watch` notes the real time of the first reading at which a condition holds. The breaker
 * reads the clock when it opens and the composition reads it again right after, before it asks the fallback, so a
 * watch on "circuit not closed" marks the opening to within microseconds.
 */
interface BenchClock {
  now(): number;
  skip(ms: number): void;
  watch(condition: () => boolean): void;
  /** The first reading that met the watched condition: `performance.now()` then, and the clock's own value. */
  seenAt(): { readonly real: number; readonly clock: number } | undefined;
}

function benchClock(): BenchClock {
  let skewMs = 0;
  let condition: (() => boolean) | undefined;
  let seen: { real: number; clock: number } | undefined;
  let checking = false;
  return {
    now() {
      const real = performance.now();
      const value = performance.timeOrigin + real + skewMs;
      // The condition reads the clock itself (the breaker's state): those nested readings are not checked.
      if (condition && !checking) {
        checking = true;
        try {
          if (condition()) {
            seen = { real, clock: value };
            condition = undefined;
          }
        } finally {
          checking = false;
        }
      }
      return value;
    },
    skip(ms) {
      skewMs += ms;
    },
    watch(next) {
      seen = undefined;
      condition = next;
    },
    seenAt: () => seen,
  };
}

async function runSwitchOver(
  modelPath: string,
  openCalls: number,
  progress: (line: string) => void,
): Promise<SwitchOverResult> {
  const started = performance.now();
  progress(`fallback: switch-over, ${path.basename(modelPath)} as primary and fallback`);
  const engines: LocalModel[] = [];
  let gate: ModelSwitch | undefined;
  try {
    // One after the other, so a failed start leaves nothing running unstopped.
    for (let i = 0; i < 2; i++) engines.push(await startLocalModel({ modelPath }));
    const [primaryEngine, fallbackEngine] = engines as [LocalModel, LocalModel];
    const sw = await startModelSwitch({ target: primaryEngine.url });
    gate = sw;
    const clock = benchClock();
    const client = createModelClient(
      loadWorkerConfig({
        ...BENCH_ENV,
        MODEL_ENDPOINT_URL: sw.url,
        MODEL_ID: PRIMARY_MODEL_ID,
        FALLBACK_MODEL_ENDPOINT_URL: fallbackEngine.url,
        FALLBACK_MODEL_ID: FALLBACK_MODEL_ID,
      }),
      { now: clock.now },
    );
    const call = (): Promise<SwitchCall> => timedCall(client, sw, clock);

    // Unmeasured: each engine answers once (first generation), and the composed client's primary path is set up.
    await warmEngine(fallbackEngine.url);
    expectAnswer(await call(), 'primary', 'warm-up');
    const healthy: number[] = [];
    for (let i = 0; i < HEALTHY_CALLS; i++) healthy.push(expectAnswer(await call(), 'primary', 'healthy').latencyMs);

    // (a) and (b): down, then call after call until the breaker has opened.
    sw.set('down');
    const downAt = performance.now();
    clock.watch(() => client.circuitState() !== 'closed');
    const closedCalls: SwitchCall[] = [];
    let firstFallbackAt: number | undefined;
    let openedCallEnd: number | undefined;
    while (closedCalls.length < MAX_CLOSED_CALLS) {
      const result = await call();
      closedCalls.push(result);
      if (result.answeredBy === 'fallback') firstFallbackAt ??= performance.now();
      if (result.circuitAfter !== 'closed') {
        openedCallEnd = performance.now();
        break;
      }
    }
    const opened = clock.seenAt();
    const openedAt = opened?.real;

    // (c): the breaker is open; calls should go to the fallback without touching the primary.
    const refusedBefore = sw.refusedCalls();
    const open: SwitchCall[] = [];
    if (openedAt !== undefined) for (let i = 0; i < openCalls; i++) open.push(await call());
    const openPrimaryCalls = sw.refusedCalls() - refusedBefore;

    const recovery = opened === undefined ? {} : await recover(client, sw, clock, opened.clock);
    return {
      model: path.basename(modelPath),
      healthy: summarise(healthy),
      closedCalls,
      ...(openedAt === undefined ? {} : { downToOpenMs: openedAt - downAt }),
      ...(firstFallbackAt === undefined ? {} : { downToFirstFallbackMs: firstFallbackAt - downAt }),
      ...(openedAt === undefined || openedCallEnd === undefined ? {} : { openToFallbackMs: openedCallEnd - openedAt }),
      open: summarise(open.filter((c) => c.answeredBy !== 'error').map((c) => c.latencyMs)),
      openAnsweredByFallback: open.filter((c) => c.answeredBy === 'fallback').length,
      openPrimaryCalls,
      recovery,
      elapsedMs: performance.now() - started,
    };
  } finally {
    await gate?.close();
    await Promise.all(engines.map((e) => e.close()));
  }
}

/**
 * The primary comes back up while the breaker is open. The clock is moved on in steps until the breaker would let a
 * probe through (`half_open`), then one call is timed: the probe to the primary, whose success closes the breaker.
 * @param openedClockAt the clients' clock reading at which the breaker opened.
 */
async function recover(
  client: ModelClient,
  sw: ModelSwitch,
  clock: BenchClock,
  openedClockAt: number,
): Promise<RecoveryResult> {
  sw.set('up');
  const upAt = performance.now();
  let skipped = 0;
  while (client.circuitState() === 'open' && skipped < MAX_COOL_DOWN_MS) {
    clock.skip(COOL_DOWN_STEP_MS);
    skipped += COOL_DOWN_STEP_MS;
  }
  if (client.circuitState() === 'open') return {};
  const coolDownMs = clock.now() - openedClockAt;
  const probe = await timedCall(client, sw, clock);
  return {
    coolDownMs,
    ...(probe.answeredBy === 'primary' ? { upToPrimaryMs: skipped + (performance.now() - upAt) } : {}),
    probe,
    circuitAfterProbe: client.circuitState(),
  };
}

/** Names the worker config requires; the tables are never reached (only the model client is built from it). */
const BENCH_ENV = {
  AWS_REGION: REGION,
  AWS_ACCESS_KEY_ID: 'sandbox',
  AWS_SECRET_ACCESS_KEY: 'sandbox',
  ENABLED_PLATFORMS: 'slack',
  EVENTS_TABLE: 'bench-events',
  CONVERSATIONS_TABLE: 'bench-conversations',
  ANSWER_CACHE_TABLE: 'bench-answer-cache',
  LEDGER_TABLE: 'bench-ledger',
  AUDIT_TABLE: 'bench-audit',
} as const;

async function timedCall(client: ModelClient, sw: ModelSwitch, clock: BenchClock): Promise<SwitchCall> {
  const refusedBefore = sw.refusedCalls();
  const started = performance.now();
  try {
    const result = await client.invoke(SWITCH_REQUEST, { deadline: clock.now() + WORKER_DEADLINE_MS });
    return {
      latencyMs: performance.now() - started,
      answeredBy: result.modelId === FALLBACK_MODEL_ID ? 'fallback' : 'primary',
      attempts: result.attempts,
      primaryRefused: sw.refusedCalls() - refusedBefore,
      circuitAfter: client.circuitState(),
    };
  } catch (err) {
    return {
      latencyMs: performance.now() - started,
      answeredBy: 'error',
      primaryRefused: sw.refusedCalls() - refusedBefore,
      circuitAfter: client.circuitState(),
      error: err instanceof ModelError ? err.reason : String(err),
    };
  }
}

/** A warm-up or healthy-phase call must have been answered by `by`: otherwise the figures would mean nothing. */
function expectAnswer(call: SwitchCall, by: AnsweredBy, phase: string): SwitchCall {
  if (call.answeredBy !== by) {
    throw new Error(`fallback bench: ${phase} call answered by ${call.answeredBy} (${call.error ?? 'no error'})`);
  }
  return call;
}

async function warmEngine(url: string): Promise<void> {
  const res = await fetch(`${url}/endpoints/${FALLBACK_ENDPOINT_NAME}/invocations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ messages: SWITCH_REQUEST.messages, max_tokens: 8 }),
  });
  if (!res.ok) throw new Error(`fallback bench: the fallback engine's warm-up answered ${res.status}`);
  await res.arrayBuffer();
}

interface StreamSample {
  readonly ttftMs: number;
  readonly latencyMs: number;
  readonly promptTokens?: number;
  readonly completionTokens: number;
}

/** One local model server; the fallback client on each route, one warm-up each, then rounds in alternating order. */
async function runThroughput(modelPath: string, calls: number): Promise<ThroughputRow[]> {
  const engine = await startLocalModel({ modelPath, maxTokensLimit: THROUGHPUT_REQUEST.maxTokens });
  try {
    const clock = benchClock();
    const common = {
      endpointName: FALLBACK_ENDPOINT_NAME,
      region: REGION,
      modelId: FALLBACK_MODEL_ID,
      memoryMb: DEFAULT_FALLBACK_MEMORY_MB,
      timeoutMs: DEFAULT_FALLBACK_TIMEOUT_MS,
      now: clock.now,
    };
    const clients: Record<FallbackRoute, ModelClient> = {
      sagemaker: createFallbackClient({ ...common, endpointUrl: engine.url }),
      openai: createFallbackClient({
        ...common,
        endpointUrl: `${engine.url}/v1`,
        openAi: { model: FALLBACK_MODEL_ID },
      }),
    };
    const routes: FallbackRoute[] = ['sagemaker', 'openai'];
    const samples: Record<FallbackRoute, StreamSample[]> = { sagemaker: [], openai: [] };
    const errors: Record<FallbackRoute, number> = { sagemaker: 0, openai: 0 };
    for (const route of routes) await streamOnce(clients[route], clock);
    for (let round = 0; round < calls; round++) {
      for (const route of round % 2 === 0 ? routes : [...routes].reverse()) {
        const sample = await streamOnce(clients[route], clock);
        if (sample) samples[route].push(sample);
        else errors[route] += 1;
      }
    }
    return routes.map((route) => throughputRow(path.basename(modelPath), route, samples[route], errors[route]));
  } finally {
    await engine.close();
  }
}

async function streamOnce(client: ModelClient, clock: BenchClock): Promise<StreamSample | undefined> {
  let deltas = 0;
  try {
    const result = await client.invokeStream(THROUGHPUT_REQUEST, {
      deadline: clock.now() + WORKER_DEADLINE_MS,
      onDelta: () => {
        deltas += 1;
      },
    });
    if (result.timeToFirstTokenMs === undefined) return undefined;
    return {
      ttftMs: result.timeToFirstTokenMs,
      latencyMs: result.latencyMs,
      ...(result.usage ? { promptTokens: result.usage.promptTokens } : {}),
      // Both routes stream a usage chunk (the OpenAI client asks for it); deltas are a floor if one did not.
      completionTokens: result.usage?.completionTokens ?? deltas,
    };
  } catch {
    return undefined;
  }
}

function throughputRow(
  model: string,
  route: FallbackRoute,
  samples: readonly StreamSample[],
  errors: number,
): ThroughputRow {
  const prompts = samples.flatMap((s) => (s.promptTokens === undefined ? [] : [s.promptTokens]));
  const of = (pick: (s: StreamSample) => number): number => (samples.length > 0 ? median(samples.map(pick)) : NaN);
  return {
    model,
    route,
    calls: samples.length + errors,
    errors,
    promptTokensMedian: prompts.length > 0 ? median(prompts) : NaN,
    completionTokensMedian: of((s) => s.completionTokens),
    ttftMedianMs: of((s) => s.ttftMs),
    latencyMedianMs: of((s) => s.latencyMs),
    tokensPerSecMedian: of((s) => (s.completionTokens * 1000) / s.latencyMs),
    decodeTokensPerSecMedian: of((s) => ((s.completionTokens - 1) * 1000) / Math.max(1e-3, s.latencyMs - s.ttftMs)),
  };
}
