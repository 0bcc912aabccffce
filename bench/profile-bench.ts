import type { LocalAws } from '../sandbox/local-aws/index';
import { fakeModel, modelReply, sqsRecordOf } from '../test/helpers/factories';
import { table } from './report';
import { nsToMs, summarise } from './stats';
import { startBenchWorker } from './worker-rig';

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
  const { trace, runtime, queued } = await startBenchWorker(aws, (config) => {
    const answer = modelReply('Nine to five, Monday to Friday.', { latencyMs: 0, modelId: config.model.modelId });
    return fakeModel({ id: config.model.modelId, respond: () => answer });
  });
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
