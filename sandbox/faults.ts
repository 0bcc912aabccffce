import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { ConfigError } from '#core/errors';
import type { CheckpointStep } from '#core/process-event';
import type { QueuedEvent } from '#core/queue-message';
import { closeServer, forwardTo, listenLocal, readRequestBody } from './http-forward';

/**
 * Fault injection for the sandbox (reliability suite, issue 9). Off unless its variables are set; never part of a
 * production bundle. Each rate is the share of calls that fail, drawn from a seeded generator so a run with the
 * same seed injects the same sequence of faults (the order calls arrive in still depends on scheduling).
 */
export const FAULT_ENV = {
  /** Share (0–1) of platform send-API calls answered 429 / 5xx / expired token. */
  sendRate: 'SANDBOX_FAULT_SEND_RATE',
  /** Share (0–1) of model calls answered 5xx or left hanging until the caller gives up. */
  modelRate: 'SANDBOX_FAULT_MODEL_RATE',
  /** Integer seed of the fault generator. */
  seed: 'SANDBOX_FAULT_SEED',
  /**
   * Share (0–1) of worker attempts that crash at one pipeline step (after claim, after the model, after the send,
   * after recording the reply — before the SQS acknowledgement), the step taken in turn.
   */
  crashRate: 'SANDBOX_FAULT_CRASH_RATE',
} as const;

/** Timing knobs that let a bounded test see redeliveries in seconds rather than the production minutes. */
export const TIMING_ENV = {
  /** The worker Lambda's timeout in the sandbox, ms; the model deadline is 5 s below it. @default 60000 */
  workerTimeoutMs: 'SANDBOX_WORKER_TIMEOUT_MS',
  /** Visibility timeout of received work messages, s: how soon a failed record is redelivered. @default 360 */
  visibilitySeconds: 'SANDBOX_QUEUE_VISIBILITY_SECONDS',
  /** Batches the worker handles at once, like the SQS mapping's concurrent pollers. @default 2 */
  workerConcurrency: 'SANDBOX_WORKER_CONCURRENCY',
  /**
   * Platform time limits (Feishu's 10-minute streaming window, WeCom's 6-minute refresh window) run this many times
   * faster in the emulators, so tests see them expire in seconds. @default 1
   */
  platformClockScale: 'SANDBOX_PLATFORM_CLOCK_SCALE',
  /** How often the stream sweeper runs (EventBridge runs it every minute in AWS), ms. @default 60000 */
  sweepIntervalMs: 'SANDBOX_SWEEP_INTERVAL_MS',
} as const;

export interface SandboxTiming {
  readonly workerTimeoutMs: number;
  readonly visibilityTimeoutSeconds: number;
  readonly workerConcurrency: number;
  readonly platformClockScale: number;
  readonly sweepIntervalMs: number;
}

export function sandboxTimingFromEnv(env: NodeJS.ProcessEnv): SandboxTiming {
  const problems: string[] = [];
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const value = env[name];
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max)
      problems.push(`${name} must be an integer ${min}–${max}, got '${value}'`);
    return n;
  };
  const timing = {
    workerTimeoutMs: int(TIMING_ENV.workerTimeoutMs, 60_000, 1_000, 900_000),
    visibilityTimeoutSeconds: int(TIMING_ENV.visibilitySeconds, 360, 1, 43_200),
    workerConcurrency: int(TIMING_ENV.workerConcurrency, 2, 1, 64),
    platformClockScale: int(TIMING_ENV.platformClockScale, 1, 1, 10_000),
    sweepIntervalMs: int(TIMING_ENV.sweepIntervalMs, 60_000, 100, 3_600_000),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return timing;
}

/** The conversation turns (every non-system message) of each model call seen, oldest first, capped. */
export class PromptLog {
  readonly calls: string[][] = [];
  constructor(private readonly cap = 50_000) {}
  record(body: Buffer): void {
    if (this.calls.length >= this.cap) return;
    try {
      const parsed = JSON.parse(body.toString('utf8')) as { messages?: { role?: unknown; content?: unknown }[] };
      const turns = (parsed.messages ?? []).filter((m) => m.role !== 'system').map((m) => String(m.content));
      this.calls.push(turns);
    } catch {
      this.calls.push([]);
    }
  }
}

export interface FaultConfig {
  readonly sendRate: number;
  readonly modelRate: number;
  readonly crashRate: number;
  readonly seed: number;
}

export type SendFault = 'none' | '429' | '5xx' | 'expired-token';
export type ModelFault = 'none' | '5xx' | 'hang';

/** Counters of what was injected, as `GET /_sandbox/faults` reports them. */
export interface FaultStats {
  readonly send: Record<SendFault, number>;
  readonly model: Record<ModelFault, number>;
  readonly crash: Record<CheckpointStep, number>;
}

const DEFAULT_SEED = 1;
// Of the failing send calls: mostly throttling and outages, a few expired tokens.
const SEND_FAULT_MIX: readonly [SendFault, number][] = [
  ['429', 0.45],
  ['5xx', 0.45],
  ['expired-token', 0.1],
];
// Of the failing model calls: half answer 500 at once, half hang past the caller's deadline.
const MODEL_HANG_SHARE = 0.5;
// A hung model call is released at the latest after this long, so a caller without a deadline cannot leak sockets.
const MAX_HANG_MS = 120_000;

/** Reads and validates the fault variables; undefined when none is set. */
export function faultConfigFromEnv(env: NodeJS.ProcessEnv): FaultConfig | undefined {
  const raw = {
    send: env[FAULT_ENV.sendRate],
    model: env[FAULT_ENV.modelRate],
    crash: env[FAULT_ENV.crashRate],
    seed: env[FAULT_ENV.seed],
  };
  if (raw.send === undefined && raw.model === undefined && raw.crash === undefined) return undefined;
  const problems: string[] = [];
  const rate = (name: string, value: string | undefined): number => {
    if (value === undefined) return 0;
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1)
      problems.push(`${name} must be 0–1, got '${value}'`);
    return n;
  };
  const sendRate = rate(FAULT_ENV.sendRate, raw.send);
  const modelRate = rate(FAULT_ENV.modelRate, raw.model);
  const crashRate = rate(FAULT_ENV.crashRate, raw.crash);
  const seed = raw.seed === undefined ? DEFAULT_SEED : Number(raw.seed);
  if (!Number.isSafeInteger(seed)) problems.push(`${FAULT_ENV.seed} must be an integer, got '${raw.seed}'`);
  if (problems.length > 0) throw new ConfigError(problems);
  return { sendRate, modelRate, crashRate, seed };
}

// `streaming` fires at a streamed reply's second update, or before the final write of one shown in fewer updates.
const CRASH_STEPS: readonly CheckpointStep[] = ['claimed', 'streaming', 'answered', 'sent', 'recorded'];

/** The injected crash; the worker handler reports the record failed, as if the Lambda had died mid-step. */
export class InjectedCrash extends Error {
  constructor(readonly step: CheckpointStep) {
    super(`injected worker crash at '${step}'`);
    this.name = 'InjectedCrash';
  }
}

/**
 * Crashes `rate` of worker attempts, each at one step chosen in turn. The choice is made once per attempt (event id
 * + SQS receive count), so concurrent batches do not disturb each other and a redelivery can succeed.
 */
export function createCrashCheckpoint(rate: number, random: () => number, stats: FaultStats) {
  const plans = new Map<string, CheckpointStep | null>();
  let turn = 0;
  return (step: CheckpointStep, event: QueuedEvent): void => {
    if (step === 'claimed') {
      const attempt = event.message.eventId;
      const crashAt = random() < rate ? (CRASH_STEPS[turn++ % CRASH_STEPS.length] ?? null) : null;
      plans.set(attempt, crashAt);
    }
    if (plans.get(event.message.eventId) === step) {
      plans.delete(event.message.eventId);
      stats.crash[step]++;
      throw new InjectedCrash(step);
    }
  };
}

/** mulberry32: a small, fast, seedable generator of floats in [0, 1); plenty for picking faults. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Picks the fault of each send call: `rate` of them fail, split by SEND_FAULT_MIX. */
export function createSendFaultPicker(rate: number, random: () => number, stats: FaultStats): () => SendFault {
  return () => {
    const fault = random() < rate ? pickFromMix(random()) : 'none';
    stats.send[fault] += 1;
    return fault;
  };
}

function pickFromMix(roll: number): SendFault {
  let acc = 0;
  for (const [fault, share] of SEND_FAULT_MIX) {
    acc += share;
    if (roll < acc) return fault;
  }
  return '5xx';
}

export function emptyFaultStats(): FaultStats {
  return {
    send: { none: 0, '429': 0, '5xx': 0, 'expired-token': 0 },
    model: { none: 0, '5xx': 0, hang: 0 },
    crash: { claimed: 0, streaming: 0, answered: 0, sent: 0, recorded: 0 },
  };
}

export interface ModelFaultProxy {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * A reverse proxy in front of the model endpoint: `rate` of the calls get a SageMaker-style 500 or no answer at
 * all until the caller aborts (its deadline); the rest are forwarded unchanged, streaming included.
 */
export async function startModelFaultProxy(options: {
  readonly target: string;
  readonly rate: number;
  readonly random: () => number;
  readonly stats: FaultStats;
  /** Sees every request body (JSON of the SageMaker call), for checks on what reached the model. */
  readonly onRequest?: (body: Buffer) => void;
}): Promise<ModelFaultProxy> {
  const target = new URL(options.target);
  const hung = new Set<ServerResponse>();

  const pick = (): ModelFault => {
    if (options.random() >= options.rate) return 'none';
    return options.random() < MODEL_HANG_SHARE ? 'hang' : '5xx';
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readRequestBody(req);
    options.onRequest?.(body);
    const fault = pick();
    options.stats.model[fault] += 1;
    if (fault === '5xx') {
      res.writeHead(500, { 'content-type': 'application/json', 'x-amzn-errortype': 'ModelError' });
      return void res.end(JSON.stringify({ message: 'Injected model fault (sandbox)' }));
    }
    if (fault === 'hang') return hang(res);
    forwardTo(target, req, body, res, 'Model endpoint unreachable through the fault proxy');
  }

  function hang(res: ServerResponse): void {
    hung.add(res);
    const release = setTimeout(() => res.destroy(), MAX_HANG_MS);
    res.on('close', () => {
      clearTimeout(release);
      hung.delete(res);
    });
  }

  const url = await listenLocal(server);
  return {
    url,
    close: () => {
      for (const res of hung) res.destroy();
      return closeServer(server);
    },
  };
}
