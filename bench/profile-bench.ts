import { createWorkerRuntime } from '#composition/worker-runtime';
import { loadWorkerConfig } from '#config/worker-config';
import type { QueuedEvent } from '#core/queue-message';
import { createDefaultIngestDeps, createWebhookHandler } from '#handlers/webhook';
import { createEnabledPlatforms } from '#platforms/registry';
import { credentialEnv, SANDBOX_CREDENTIALS } from '../sandbox/defaults';
import type { LocalAws } from '../sandbox/local-aws/index';
import { createSlackEmulator } from '../sandbox/platform-emulator/slack';
import { proxyEventOf, testEmulatorContext } from '../test/helpers/emulated';
import { fakeModel, modelReply, sqsRecordOf } from '../test/helpers/factories';
import { localAwsEnv } from '../test/helpers/local-aws-json';
import { traceCalls } from './dynamo-calls';
import { table } from './report';
import { nsToMs, summarise } from './stats';

/**
 * Member profiles and the FAQ cache (docs/PROFILES.md): the same stream of first questions (a pool of FAQ questions,
 * each asked by members new to the chat, so every question is context-free) answered by the real worker runtime on
 * dynalite, once with no member holding a profile and once with a share of members holding one that shapes the
 * prompt (language or audience). Reports the FAQ cache hit rate of each, the hit rate among shaped and unshaped
 * answers, and the worker's time and DynamoDB calls per message (model and platform HTTP excluded, as in
 * `worker-bench.ts`). `npx tsx bench/profile-bench.ts`.
 */

const QUESTIONS = [
  'What are the office hours?',
  'How do I reset my VPN password?',
  'Where is the expense policy?',
  'Who approves travel?',
  'How do I book a meeting room?',
  'What is the on-call rota?',
  'Where are the brand assets?',
  'How do I request a laptop?',
];

/** Profiles members may hold in the shaped scenario, each set with the member's own `/profile set`. */
const PROFILES: readonly (readonly string[])[] = [
  ['/profile set language zh'],
  ['/profile set language ja'],
  ['/profile set role Engineering Manager'],
  ['/profile set role Backend engineer', '/profile set length short'],
];

export interface ProfileScenarioRow {
  readonly scenario: string;
  readonly answered: number;
  readonly cacheHits: number;
  readonly shaped: number;
  readonly shapedHits: number;
  readonly medianMs: number;
  readonly p99Ms: number;
  readonly dbCallsMedian: number;
  readonly sequentialMax: number;
  /** Mean DynamoDB calls and the most sequential round trips of the shaped members' answers alone. */
  readonly shapedCallsMean: number;
  readonly shapedSequentialMax: number;
}

export async function runProfileBench(
  aws: LocalAws,
  options: { readonly messages?: number; readonly shapedShare?: number } = {},
): Promise<ProfileScenarioRow[]> {
  const messages = options.messages ?? 400;
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
  let seq = 0;
  const platforms = await createEnabledPlatforms(['slack'], env, {
    deps: {
      fetch: async () =>
        new Response(JSON.stringify({ ok: true, channel: 'C', ts: `1700000000.${String(++seq).padStart(6, '0')}` }), {
          status: 200,
          headers: { 'content-type': 'application/json' },
        }),
    },
  });
  const trace = traceCalls(aws.clients.doc);
  const answer = modelReply('Nine to five, Monday to Friday.', { latencyMs: 0, modelId: config.model.modelId });
  const runtime = createWorkerRuntime({
    config,
    clients: { ...aws.clients, doc: trace.doc },
    platforms,
    model: fakeModel({ id: config.model.modelId, respond: () => answer }),
  });
  const queued = await webhookQueue(env, aws);
  const stamp = Date.now().toString(36);

  const scenario = async (name: string, shapedShare: number): Promise<ProfileScenarioRow> => {
    const chat = `pb-${name}-${stamp}`;
    const samples: number[] = [];
    const calls: number[] = [];
    let sequentialMax = 0;
    let shapedCalls = 0;
    let shapedSequentialMax = 0;
    let cacheHits = 0;
    let shaped = 0;
    let shapedHits = 0;
    for (let i = 0; i < messages; i++) {
      // Each message from a member new to the chat: context-free, so the FAQ cache is consulted every time.
      const member = `${name}-m${i}`;
      // Every question is asked under every profile (and without one) about equally often.
      const shapedMember = (i * 37) % 100 < shapedShare * 100;
      const profile = shapedMember ? PROFILES[Math.floor(i / QUESTIONS.length) % PROFILES.length] : undefined;
      for (const command of profile ?? [])
        await runtime(sqsRecordOf(await queued({ chatId: chat, userId: member, text: command })));
      const question = QUESTIONS[i % QUESTIONS.length] ?? '';
      // Each scenario starts on a cold cache: its questions are its own.
      const record = sqsRecordOf(await queued({ chatId: chat, userId: member, text: `${question} (${chat})` }));
      trace.reset();
      const start = process.hrtime.bigint();
      const result = await runtime(record);
      samples.push(nsToMs(process.hrtime.bigint() - start));
      const figures = trace.figures();
      calls.push(figures.calls);
      sequentialMax = Math.max(sequentialMax, figures.sequential);
      const hit = result.kind === 'replied' && result.source === 'cache';
      if (hit) cacheHits++;
      if (profile) {
        shaped++;
        if (hit) shapedHits++;
        shapedCalls += figures.calls;
        shapedSequentialMax = Math.max(shapedSequentialMax, figures.sequential);
      }
    }
    const latency = summarise(samples);
    return {
      scenario: name,
      answered: messages,
      cacheHits,
      shaped,
      shapedHits,
      medianMs: latency.medianMs,
      p99Ms: latency.p99Ms,
      dbCallsMedian: summarise(calls).medianMs,
      sequentialMax,
      shapedCallsMean: shaped === 0 ? 0 : shapedCalls / shaped,
      shapedSequentialMax,
    };
  };

  // Alternated twice, so drift on a shared machine affects both alike.
  const rows = [
    await scenario('none', 0),
    await scenario('shaped', options.shapedShare ?? 0.5),
    await scenario('none2', 0),
    await scenario('shaped2', options.shapedShare ?? 0.5),
  ];
  return rows;
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

export function profileTable(rows: readonly ProfileScenarioRow[]): string {
  const pct = (a: number, b: number) => (b === 0 ? '–' : `${((100 * a) / b).toFixed(1)}%`);
  return table(
    [
      'scenario',
      'answered',
      'FAQ hit rate',
      'shaped answers',
      'hit rate shaped',
      'hit rate unshaped',
      'median ms',
      'p99 ms',
      'DynamoDB calls',
      'sequential max',
      'shaped: calls (mean) / sequential max',
    ],
    rows.map((r) => [
      r.scenario,
      String(r.answered),
      pct(r.cacheHits, r.answered),
      String(r.shaped),
      pct(r.shapedHits, r.shaped),
      pct(r.cacheHits - r.shapedHits, r.answered - r.shaped),
      r.medianMs.toFixed(2),
      r.p99Ms.toFixed(2),
      String(r.dbCallsMedian),
      String(r.sequentialMax),
      r.shaped === 0 ? '–' : `${r.shapedCallsMean.toFixed(2)} / ${r.shapedSequentialMax}`,
    ]),
  );
}

if (require.main === module) {
  void (async () => {
    const os = await import('node:os');
    const { logger } = await import('#shared/powertools');
    const { startLocalAws } = await import('../sandbox/local-aws/index');
    logger.setLogLevel('ERROR');
    const aws = await startLocalAws({
      queue: { name: 'profile-bench', visibilityTimeoutSeconds: 30, maxReceiveCount: 3 },
    });
    try {
      const before = os.loadavg();
      const rows = await runProfileBench(aws);
      console.log(profileTable(rows));
      console.log(
        `load average before ${before.map((l) => l.toFixed(2)).join(' ')}, after ${os
          .loadavg()
          .map((l) => l.toFixed(2))
          .join(' ')}`,
      );
    } finally {
      await aws.stop();
    }
  })();
}
