import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createWorkerRuntime } from '#composition/worker-runtime';
import { loadWorkerConfig } from '#config/worker-config';
import type { QueuedEvent } from '#core/queue-message';
import { createDefaultIngestDeps, createWebhookHandler } from '#handlers/webhook';
import { createEnabledPlatforms } from '#platforms/registry';
import { EventStore } from '#stores/event-store';
import { credentialEnv, SANDBOX_CREDENTIALS } from '../sandbox/defaults';
import type { LocalAws } from '../sandbox/local-aws/index';
import { createSlackEmulator } from '../sandbox/platform-emulator/slack';
import { proxyEventOf, testEmulatorContext } from '../test/helpers/emulated';
import { fakeModel, modelReply, sqsRecordOf } from '../test/helpers/factories';
import { type LatencySummary, nsToMs, summarise } from './stats';

/**
 * Worker overhead per message, excluding model time and platform HTTP: the real worker runtime (claim, context,
 * FAQ cache, PII masking, prompt, safety filter, ledger and audit, exactly-once bookkeeping) against dynalite, with
 * an in-process model that answers at once and the real Slack adapter over a `fetch` that answers at once.
 * Queue messages come from the real webhook. Every DynamoDB call is counted by wrapping the document client.
 *
 * - `follow-up`: the hot path, a member's next question with context (no cache lookup: history makes it
 *   uncacheable).
 * - `first-question`: a new conversation asking a new question (cache lookup misses, answer is cached).
 * - `cache-hit`: a new conversation asking a question already cached (no model call).
 */
export type WorkerPath = 'follow-up' | 'first-question' | 'cache-hit';

export interface WorkerRow extends LatencySummary {
  readonly path: WorkerPath;
  /** DynamoDB calls per message (median over the series), by operation. */
  readonly dbCallsPerMessage: number;
  readonly dbCallsByOperation: Readonly<Record<string, number>>;
  readonly truncated: boolean;
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

export const WORKER_TARGETS = { medianMs: 15, contextCalls: 2, claimCalls: 1 } as const;

export async function runWorkerBench(aws: LocalAws, options: WorkerBenchOptions): Promise<WorkerRow[]> {
  const warmup = options.warmup ?? 30;
  const iterations = options.iterations ?? 300;
  const env = {
    ...credentialEnv(SANDBOX_CREDENTIALS),
    ENABLED_PLATFORMS: 'slack',
    QUEUE_URL: aws.queues.queueUrl,
    EVENTS_TABLE: aws.tables.events,
    CONVERSATIONS_TABLE: aws.tables.conversations,
    ANSWER_CACHE_TABLE: aws.tables.answerCache,
    LEDGER_TABLE: aws.tables.ledger,
    AUDIT_TABLE: aws.tables.audit,
    SLACK_API_BASE_URL: 'http://127.0.0.1:9',
  };
  const config = loadWorkerConfig(env);
  let postSeq = 0;
  const platforms = await createEnabledPlatforms(['slack'], env, {
    deps: {
      fetch: async () =>
        new Response(
          JSON.stringify({ ok: true, channel: 'C', ts: `1700000000.${String(++postSeq).padStart(6, '0')}` }),
          {
            status: 200,
            headers: { 'content-type': 'application/json' },
          },
        ),
    },
  });
  const calls = new Map<string, number>();
  const runtime = createWorkerRuntime({
    config,
    clients: { ...aws.clients, doc: countCalls(aws.clients.doc, calls) },
    platforms,
    model: instantModel(config.model.modelId),
  });

  const queued = await webhookQueue(env, aws);
  const rows: WorkerRow[] = [];
  const run = async (path: WorkerPath, next: (i: number) => Promise<QueuedEvent>): Promise<void> => {
    if (Date.now() >= options.deadline) return;
    for (let i = 0; i < warmup; i++) await runtime(sqsRecordOf(await next(i)));
    const samples: number[] = [];
    const perMessage: number[] = [];
    const byOperation = new Map<string, number>();
    for (let i = 0; i < iterations && Date.now() < options.deadline; i++) {
      const record = sqsRecordOf(await next(warmup + i));
      calls.clear();
      const start = process.hrtime.bigint();
      await runtime(record);
      samples.push(nsToMs(process.hrtime.bigint() - start));
      perMessage.push([...calls.values()].reduce((a, b) => a + b, 0));
      for (const [op, n] of calls) byOperation.set(op, (byOperation.get(op) ?? 0) + n);
    }
    const n = samples.length || 1;
    rows.push({
      path,
      ...summarise(samples),
      dbCallsPerMessage: summarise(perMessage).medianMs,
      dbCallsByOperation: Object.fromEntries([...byOperation].map(([op, count]) => [op, round(count / n)])),
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

/** Messages produced by the real webhook (signed Slack events), captured instead of enqueued. */
async function webhookQueue(env: Record<string, string>, aws: LocalAws) {
  const captured: QueuedEvent[] = [];
  const base = await createDefaultIngestDeps(env);
  const webhook = createWebhookHandler(async () => ({
    ...base,
    events: new EventStore(aws.clients.doc, { tableName: aws.tables.events }),
    enqueue: async (event) => {
      captured.push(event);
    },
  }));
  const emulator = createSlackEmulator();
  const { ctx } = testEmulatorContext();
  return async (input: { chatId: string; userId: string; text: string }): Promise<QueuedEvent> => {
    const res = await webhook(proxyEventOf(emulator.buildMessageEvent(input, ctx)));
    const event = captured.pop();
    if (res.statusCode !== 200 || !event) throw new Error(`webhook answered ${res.statusCode}: ${res.body}`);
    return event;
  };
}

/** The document client with every `send` counted by command name (e.g. `UpdateCommand`). */
function countCalls(doc: DynamoDBDocumentClient, counts: Map<string, number>): DynamoDBDocumentClient {
  return new Proxy(doc, {
    get(target, prop, receiver) {
      if (prop !== 'send') return Reflect.get(target, prop, receiver);
      return (command: { constructor: { name: string } }, ...rest: unknown[]) => {
        const name = command.constructor.name.replace(/Command$/, '');
        counts.set(name, (counts.get(name) ?? 0) + 1);
        return (target.send as (...args: unknown[]) => unknown).call(target, command, ...rest);
      };
    },
  });
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
  const header = `Worker overhead per message, model and platform HTTP excluded (targets: median ≤ ${WORKER_TARGETS.medianMs} ms; hot path ≤ ${WORKER_TARGETS.contextCalls} context + ${WORKER_TARGETS.claimCalls} claim DynamoDB calls)`;
  const lines = rows.map((r) => {
    const ops = Object.entries(r.dbCallsByOperation)
      .map(([op, n]) => `${op}×${n}`)
      .join(' ');
    const flag = r.medianMs <= WORKER_TARGETS.medianMs ? 'ok' : 'OVER';
    return `${r.path.padEnd(15)} n=${String(r.n).padStart(4)}${r.truncated ? '*' : ' '} median ${r.medianMs.toFixed(2)} ms (${flag})  p99 ${r.p99Ms.toFixed(2)} ms  DynamoDB calls/msg ${r.dbCallsPerMessage}: ${ops}`;
  });
  return [header, ...lines].join('\n');
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
