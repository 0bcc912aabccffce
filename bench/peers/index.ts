import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LAMBDA_NODE_OPTIONS } from '../../lib/constructs/lambda-bundling';
import { startLocalAws } from '../../sandbox/local-aws/index';
import type { BundleRow } from '../bundle-bench';
import { TARGETS } from '../report';
import type { WebhookRow } from '../webhook-bench';
import { runColdStart } from './cold-start';
import { runFeishuPeerBench } from './feishu-peer';
import type { PairOptions } from './measure';
import { runModelPeerBench } from './model-peer';
import { checksTable, coldStartTable, modelTable, referenceRows, webhookPeerTable } from './report';
import { runSlackPeerBench } from './slack-peer';

/**
 * The side-by-side part of `npm run bench`: GroupGate against what teams would use instead — Slack's Bolt, the
 * Feishu SDK, and node-llama-cpp without the SageMaker-contract server — as GroupGate ÷ peer ratios. It reuses the
 * webhook and bundle rows the same run just measured, prints its tables and writes bench/results-peers.json.
 */
export interface PeerBenchOptions {
  readonly rootDir: string;
  readonly webhook: readonly WebhookRow[];
  readonly bundles: readonly BundleRow[];
  /** Epoch ms the whole bench must be done by; this part also stops after its own budget. */
  readonly deadline: number;
  readonly progress: (line: string) => void;
  /** Another checkout whose webhook joins the cold-start rounds as `webhook-baseline` (`npm run bench -- --baseline`). */
  readonly baselineRoot?: string;
}

const RESULTS_FILE = path.join(__dirname, '..', 'results-peers.json');
const BUDGET_MS = 60_000;
const PAIR = { warmup: 200, iterations: 2_000, block: 100, seriesBudgetMs: 5_000 } as const;
const INIT_RUNS = 5;
const MODEL = { runs: 12, maxTokens: 128 } as const;

export async function runPeerBench(options: PeerBenchOptions): Promise<void> {
  const started = Date.now();
  const deadline = Math.min(options.deadline, started + BUDGET_MS);
  const pair: PairOptions = { ...PAIR, deadline };

  options.progress('peers: Slack (GroupGate vs Bolt AwsLambdaReceiver)');
  const slack = await runSlackPeerBench(pair);
  options.progress('peers: Feishu (GroupGate vs the Feishu SDK EventDispatcher)');
  const feishu = await runFeishuPeerBench(pair);

  options.progress('peers: GroupGate and minimal peer Lambda bundles, cold starts timed in rounds');
  const outDir = mkdtempSync(path.join(os.tmpdir(), 'groupgate-peers-'));
  // The webhook's first request needs its table and queue.
  const aws = await startLocalAws({ queue: { name: 'cold-start', visibilityTimeoutSeconds: 30, maxReceiveCount: 3 } });
  const coldStart = await runColdStart({
    rootDir: options.rootDir,
    outDir,
    initRuns: INIT_RUNS,
    deadline,
    aws,
    ...(options.baselineRoot ? { baselineRoot: options.baselineRoot } : {}),
  }).finally(async () => {
    rmSync(outDir, { recursive: true, force: true });
    await aws.stop();
  });

  const model = await runModelPeerBench({ rootDir: options.rootDir, ...MODEL, deadline, progress: options.progress });

  const comparisons = [...slack.comparisons, ...feishu.comparisons];
  const references = referenceRows(options.webhook);
  const checks = [...slack.checks, ...feishu.checks];
  console.log(
    '\nSide by side: the same signed event, sequential calls in alternating blocks (ratio < 1: GroupGate faster)',
  );
  console.log(webhookPeerTable(comparisons, references));
  console.log('\nThe same crafted requests through both handlers ((!) = not the secure answer)');
  console.log(checksTable(checks));
  console.log(
    `\nCold start: minified bundle (sdk-external, as CDK ships it), fresh Node process with the deployed Node options (${LAMBDA_NODE_OPTIONS || 'none'}), timed in rounds: module init, then the first and a second request; GroupGate ÷ minimal peer Lambdas (webhook budget: init ≤ ${TARGETS.webhookInitMs} ms and ≤ ${TARGETS.webhookInitPeerRatio}× Bolt and Lark)`,
  );
  console.log(coldStartTable(coldStart, options.bundles));
  console.log(
    `\nLocal model: SageMaker-contract server vs node-llama-cpp direct (temperature 0, ${MODEL.maxTokens} max tokens, 1 thread each)`,
  );
  console.log(modelTable(model));

  const elapsedMs = Date.now() - started;
  writeFileSync(
    RESULTS_FILE,
    `${JSON.stringify(
      {
        at: new Date(started).toISOString(),
        node: process.version,
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model,
        loadAverageAfter: os.loadavg(),
        elapsedMs,
        settings: { pair: PAIR, initRuns: INIT_RUNS, model: MODEL },
        webhook: { comparisons, references },
        checks,
        coldStart,
        model,
      },
      null,
      2,
    )}\n`,
  );
  console.log(
    `side-by-side part ${(elapsedMs / 1000).toFixed(1)} s; results written to ${path.relative(process.cwd(), RESULTS_FILE)}`,
  );
}
