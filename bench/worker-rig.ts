import { createWorkerRuntime } from '#composition/worker-runtime';
import { loadWorkerConfig, type WorkerConfig } from '#config/worker-config';
import type { QueuedEvent } from '#core/queue-message';
import { createDefaultIngestDeps, createWebhookHandler } from '#handlers/webhook';
import type { ModelClient } from '#model/model-client';
import { createEnabledPlatforms } from '#platforms/registry';
import { credentialEnv, SANDBOX_CREDENTIALS } from '../sandbox/defaults';
import type { LocalAws } from '../sandbox/local-aws/index';
import { createSlackEmulator } from '../sandbox/platform-emulator/slack';
import { proxyEventOf, testEmulatorContext } from '../test/helpers/emulated';
import { localAwsEnv } from '../test/helpers/local-aws-json';
import { type CallTrace, traceCalls } from './dynamo-calls';

/**
 * The worker as the worker benches run it (`worker-bench.ts`, `profile-bench.ts`): the real runtime against the local
 * stand-ins, Slack only, with its DynamoDB calls traced, the real Slack adapter over a `fetch` that answers at once,
 * and queue messages made by the real webhook from signed Slack events.
 */
export interface BenchWorker {
  readonly config: WorkerConfig;
  readonly trace: CallTrace;
  readonly runtime: ReturnType<typeof createWorkerRuntime>;
  /** A queued event the real webhook made of this Slack message. */
  queued(input: { chatId: string; userId: string; text: string }): Promise<QueuedEvent>;
}

export async function startBenchWorker(
  aws: LocalAws,
  model: (config: WorkerConfig) => ModelClient,
): Promise<BenchWorker> {
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
          { status: 200, headers: { 'content-type': 'application/json' } },
        ),
    },
  });
  const trace = traceCalls(aws.clients.doc);
  const runtime = createWorkerRuntime({
    config,
    clients: { ...aws.clients, doc: trace.doc },
    platforms,
    model: model(config),
  });
  return { config, trace, runtime, queued: await webhookQueue(env, aws) };
}

/** Messages produced by the real webhook (signed Slack events), captured instead of enqueued. */
async function webhookQueue(env: Record<string, string>, aws: LocalAws) {
  const captured: QueuedEvent[] = [];
  const base = await createDefaultIngestDeps({ ...env, ...localAwsEnv(aws) });
  const webhook = createWebhookHandler(async () => ({
    ...base,
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
