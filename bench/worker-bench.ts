import type { QueuedEvent } from '#core/queue-message';
import type { LocalAws } from '../sandbox/local-aws/index';
import { fakeModel, modelReply, sqsRecordOf } from '../test/helpers/factories';
import { table, type Verdict } from './report';
import { type LatencySummary, nsToMs, summarise } from './stats';
import { startBenchWorker } from './worker-rig';

/**
 * Worker overhead per message, excluding model time and platform HTTP: the real worker runtime (claim, context,
 * FAQ cache, PII masking, prompt, safety filter, ledger and audit, exactly-once bookkeeping) against dynalite, with
 * an in-process model that answers at once and the real Slack adapter over a `fetch` that answers at once.
 * Queue messages come from the real webhook. Every DynamoDB call is traced through the document client
 * (`dynamo-calls.ts`): calls per message, and sequential round trips (the longest chain of calls that wait for each
 * other).
 *
 * The sandbox's dynalite answers TransactWriteItems (an emulation of DynamoDB's semantics in front of it,
 * `sandbox/local-aws/dynalite-transactions.ts`), so this is the path the worker takes on DynamoDB: the replied status
 * and the turn in one transaction. The call counts are exact (a logical clock orders the calls), so they are checked
 * against issue 22's budgets per path as well.
 *
 * - `follow-up`: the hot path, a member's next question with context (the FAQ answer is read with the context but
 *   not used: history makes the question uncacheable).
 * - `first-question`: a new conversation asking a new question (cache lookup misses, answer is cached), the member's
 *   first message of the day in that group (active-user marker written).
 * - `cache-hit`: a new conversation asking a question already cached (no model call).
 */
export type WorkerPath = 'follow-up' | 'first-question' | 'cache-hit';

export interface WorkerRow extends LatencySummary {
  readonly path: WorkerPath;
  /**
   * CPU time per message (median), this process's: the worker, the SDK and dynalite, which runs in-process. Less
   * sensitive than wall time to other work on the machine, though not immune (shared caches, clock).
   */
  readonly cpuMedianMs: number;
  /**
   * Wall time per message with a DynamoDB call in flight (median): the document client and dynalite. The rest of
   * the median is the worker's own work (`ownMedianMs`).
   */
  readonly dynamoMedianMs: number;
  /** Median of each message's time outside DynamoDB calls. */
  readonly ownMedianMs: number;
  /** DynamoDB calls per message (median over the series), by operation (mean per message). */
  readonly dbCallsPerMessage: number;
  readonly dbCallsByOperation: Readonly<Record<string, number>>;
  /** Sequential DynamoDB round trips per message, the most over the series. */
  readonly sequentialRoundTrips: number;
  /** The same path on fc99b8d (before issue 22), on DynamoDB's path; absent where it was not counted. */
  readonly before?: WorkerCallsBefore;
  readonly verdict: Verdict;
  readonly truncated: boolean;
}

export interface WorkerCallsBefore {
  readonly dbCallsPerMessage: number;
  readonly sequentialRoundTrips: number;
  readonly dbCallsByOperation: Readonly<Record<string, number>>;
}

export interface WorkerBenchOptions {
  /** @default 30 */
  readonly warmup?: number;
  /** @default 300 */
  readonly iterations?: number;
  /** Epoch ms after which the series stop. */
  readonly deadline: number;
  readonly progress: (line: string) => void;
  /** Prints the table to stdout. @default true */
  readonly print?: boolean;
}

/** Issue 22's budgets for every path. */
export const WORKER_TARGETS = { medianMs: 6, p99Ms: 15, sequentialRoundTrips: 3 } as const;

/** Issue 22's budgets of DynamoDB calls per message, for the paths it set one for. */
export const WORKER_CALL_BUDGETS: Readonly<Partial<Record<WorkerPath, number>>> = {
  'follow-up': 5,
  'first-question': 7,
};

/** What issue 22 measured before the change, on a quiet 2-core machine (fc99b8d). */
export const WORKER_LATENCY_BEFORE = 'median 10–13 ms, p99 25–30 ms';

/**
 * fc99b8d's DynamoDB calls on DynamoDB's path (the replied status and the turn in one TransactWriteItems), counted
 * then with a mocked document client; a cache hit was counted only on dynalite's path without transactions then.
 */
export const WORKER_CALLS_BEFORE: Readonly<Partial<Record<WorkerPath, WorkerCallsBefore>>> = {
  'follow-up': {
    dbCallsPerMessage: 6,
    sequentialRoundTrips: 3,
    dbCallsByOperation: { Update: 2, Get: 1, BatchWrite: 1, Put: 1, TransactWrite: 1 },
  },
  'first-question': {
    dbCallsPerMessage: 8,
    sequentialRoundTrips: 4,
    dbCallsByOperation: { Update: 2, Get: 2, BatchWrite: 1, Put: 2, TransactWrite: 1 },
  },
};

export function workerVerdict(
  row: Pick<WorkerRow, 'path' | 'n' | 'medianMs' | 'p99Ms' | 'sequentialRoundTrips' | 'dbCallsPerMessage'>,
): Verdict {
  if (row.n === 0) return 'n/a';
  const within =
    row.medianMs <= WORKER_TARGETS.medianMs &&
    row.p99Ms <= WORKER_TARGETS.p99Ms &&
    row.sequentialRoundTrips <= WORKER_TARGETS.sequentialRoundTrips &&
    row.dbCallsPerMessage <= (WORKER_CALL_BUDGETS[row.path] ?? Number.POSITIVE_INFINITY);
  return within ? 'PASS' : 'MISS';
}

export async function runWorkerBench(aws: LocalAws, options: WorkerBenchOptions): Promise<WorkerRow[]> {
  const warmup = options.warmup ?? 30;
  const iterations = options.iterations ?? 300;
  const { trace, runtime, queued } = await startBenchWorker(aws, (config) => instantModel(config.model.modelId));
  const rows: WorkerRow[] = [];
  const run = async (path: WorkerPath, next: (i: number) => Promise<QueuedEvent>): Promise<void> => {
    if (Date.now() >= options.deadline) return;
    for (let i = 0; i < warmup; i++) await runtime(sqsRecordOf(await next(i)));
    const samples: number[] = [];
    const perMessage: number[] = [];
    const sequential: number[] = [];
    const cpu: number[] = [];
    const inDynamo: number[] = [];
    const own: number[] = [];
    const byOperation = new Map<string, number>();
    for (let i = 0; i < iterations && Date.now() < options.deadline; i++) {
      const record = sqsRecordOf(await next(warmup + i));
      trace.reset();
      const cpuBefore = process.cpuUsage();
      const start = process.hrtime.bigint();
      await runtime(record);
      const wallMs = nsToMs(process.hrtime.bigint() - start);
      samples.push(wallMs);
      const used = process.cpuUsage(cpuBefore);
      cpu.push((used.user + used.system) / 1000);
      const figures = trace.figures();
      inDynamo.push(figures.inFlightMs);
      own.push(wallMs - figures.inFlightMs);
      perMessage.push(figures.calls);
      sequential.push(figures.sequential);
      for (const [op, n] of Object.entries(figures.byOperation)) byOperation.set(op, (byOperation.get(op) ?? 0) + n);
    }
    const n = samples.length || 1;
    const latency = summarise(samples);
    const sequentialRoundTrips = Math.max(0, ...sequential);
    const dbCallsPerMessage = summarise(perMessage).medianMs;
    const before = WORKER_CALLS_BEFORE[path];
    rows.push({
      path,
      ...latency,
      cpuMedianMs: summarise(cpu).medianMs,
      dynamoMedianMs: summarise(inDynamo).medianMs,
      ownMedianMs: summarise(own).medianMs,
      dbCallsPerMessage,
      dbCallsByOperation: Object.fromEntries([...byOperation].map(([op, count]) => [op, round(count / n)])),
      sequentialRoundTrips,
      ...(before ? { before } : {}),
      verdict: workerVerdict({ path, ...latency, sequentialRoundTrips, dbCallsPerMessage }),
      truncated: samples.length < iterations,
    });
    options.progress(`worker ${path}: n=${samples.length}`);
  };

  const stamp = Date.now().toString(36);
  await run('follow-up', (i) =>
    queued({ chatId: `wb-${stamp}`, userId: `member-${i % 10}`, text: `follow-up ${i}: and what about staging?` }),
  );
  await run('first-question', (i) =>
    queued({ chatId: `wb-first-${stamp}-${i}`, userId: 'alice', text: `Where is runbook ${stamp}-${i}?` }),
  );
  await run('cache-hit', (i) =>
    queued({ chatId: `wb-hit-${stamp}-${i}`, userId: 'bob', text: 'What are the office hours?' }),
  );
  if (options.print ?? true) console.log(`\n${workerTable(rows)}`);
  return rows;
}

/** A model that answers at once, so the series time the worker alone. */
function instantModel(modelId: string) {
  const answer = modelReply('Staging uses port 8443; production uses 443.', {
    usage: { promptTokens: 120, completionTokens: 12, totalTokens: 132 },
    latencyMs: 0,
    modelId,
  });
  return fakeModel({ id: modelId, respond: () => answer });
}

export function workerTable(rows: readonly WorkerRow[]): string {
  const ops = (byOperation: Readonly<Record<string, number>>) =>
    Object.entries(byOperation)
      .map(([op, n]) => `${op}×${n}`)
      .join(' ');
  return [
    `Worker overhead per message against dynalite with transactions, model and platform HTTP excluded (targets: median ≤ ${WORKER_TARGETS.medianMs} ms, p99 ≤ ${WORKER_TARGETS.p99Ms} ms, ≤ ${WORKER_TARGETS.sequentialRoundTrips} sequential DynamoDB round trips, calls ≤ ${budgets()}; before = fc99b8d: ${WORKER_LATENCY_BEFORE}, calls on DynamoDB's path; * = cut by time budget)`,
    table(
      [
        'path',
        'n',
        'median ms',
        'p90 ms',
        'p99 ms',
        'cpu ms',
        'in DynamoDB ms',
        'rest ms',
        'sequential (before)',
        'calls (before)',
        'calls now',
        'calls before',
        'target',
      ],
      rows.map((r) => [
        r.path,
        `${r.n}${r.truncated ? '*' : ''}`,
        r.medianMs.toFixed(2),
        r.p90Ms.toFixed(2),
        r.p99Ms.toFixed(2),
        r.cpuMedianMs.toFixed(2),
        r.dynamoMedianMs.toFixed(2),
        r.ownMedianMs.toFixed(2),
        `${r.sequentialRoundTrips} (${r.before?.sequentialRoundTrips ?? '–'})`,
        `${r.dbCallsPerMessage} (${r.before?.dbCallsPerMessage ?? '–'})`,
        ops(r.dbCallsByOperation),
        r.before ? ops(r.before.dbCallsByOperation) : '–',
        r.verdict,
      ]),
    ),
  ].join('\n');
}

function budgets(): string {
  return Object.entries(WORKER_CALL_BUDGETS)
    .map(([path, calls]) => `${calls} (${path})`)
    .join(', ');
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

// `npx tsx bench/worker-bench.ts`: this bench alone, on its own stand-ins.
if (require.main === module) {
  void (async () => {
    const { logger } = await import('#shared/powertools');
    const { startLocalAws } = await import('../sandbox/local-aws/index');
    logger.setLogLevel('WARN');
    const aws = await startLocalAws({
      queue: { name: 'worker-bench', visibilityTimeoutSeconds: 30, maxReceiveCount: 3 },
    });
    try {
      await runWorkerBench(aws, {
        deadline: Date.now() + 60_000,
        progress: (l) => process.stderr.write(`[bench] ${l}\n`),
      });
    } finally {
      await aws.stop();
    }
  })();
}
