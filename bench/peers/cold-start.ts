import path from 'node:path';
import { SANDBOX_CREDENTIALS } from '../../sandbox/defaults';
import type { LocalAws } from '../../sandbox/local-aws/index';
import { requestOnlyContext } from '../../sandbox/platform-emulator/delivery-log';
import { createFeishuEmulator } from '../../sandbox/platform-emulator/feishu';
import { createSlackEmulator } from '../../sandbox/platform-emulator/slack';
import { proxyEventOf } from '../../test/helpers/emulated';
import { localWebhookEnv } from '../../test/helpers/local-aws-json';
import { LAMBDA_ENTRIES } from '../bundle-bench';
import { bundleLikeCdk, topPackages } from '../bundling';
import { median } from '../stats';
import { coldRun } from './cold-run';

/** The minimal peer Lambdas built for the cold-start comparison; each file exports `handler`. */
const PEER_ENTRIES = [
  { name: 'bolt', label: '@slack/bolt 5.1.0 (App + AwsLambdaReceiver)', file: 'bolt-lambda.ts' },
  { name: 'lark', label: '@larksuiteoapi/node-sdk 1.74.0 (EventDispatcher)', file: 'lark-lambda.ts' },
] as const;

export interface ColdStartRow {
  /** A GroupGate Lambda entry (`webhook`, `worker`, …), `webhook-baseline`, or a peer (`bolt`, `lark`). */
  readonly name: string;
  readonly kind: 'groupgate' | 'peer';
  readonly label: string;
  readonly bytes?: number;
  /** Median of the fresh-process `require()` times. */
  readonly initMedianMs?: number;
  readonly initRunsMs?: readonly number[];
  /**
   * The first handler call after init, in the same process (median): what the function defers to its first request.
   * GroupGate's webhook: a signed Slack event through config, clients, adapter, reservation and send against dynalite
   * and fauxqs; the peers: the same kind of signed event, no I/O.
   */
  readonly firstRequestMedianMs?: number;
  /** The call after it (median): a warm request, so first − warm is the one-time part of the first. */
  readonly warmRequestMedianMs?: number;
  /** Median over rounds of init + first request: the cold start to the first answer. */
  readonly coldToFirstAnswerMedianMs?: number;
  /** Largest contributors to the minified output, by npm package. */
  readonly topInputs?: readonly { readonly name: string; readonly bytes: number }[];
  readonly error?: string;
}

export interface ColdStartOptions {
  readonly rootDir: string;
  readonly outDir: string;
  readonly initRuns: number;
  readonly deadline: number;
  /** Stand-ins for the webhook's first request; without them its first request is not measured. */
  readonly aws?: LocalAws;
  /** Another checkout (e.g. the previous commit) whose webhook is measured in the same rounds as `webhook-baseline`. */
  readonly baselineRoot?: string;
}

type Requests = () => { readonly events: readonly unknown[]; readonly env: Readonly<Record<string, string>> };

interface Target {
  readonly name: string;
  readonly kind: ColdStartRow['kind'];
  readonly label: string;
  readonly rootDir: string;
  readonly source: string;
  readonly requests?: Requests;
}

const TEXT = '你好，今天的值班是谁？🙂';

/**
 * Bundles GroupGate's functions (the `sdk-external` variant CDK ships) and each peer entry with the options of
 * bench/bundle-bench.ts (`LAMBDA_BUNDLING`, the peers use no `@aws-sdk/*`), then times cold starts in rounds over all
 * bundles, so load from other work on the shared machine falls on GroupGate and peers alike: each is a fresh Node
 * process with the deployed Node options, timing module init (`require()`) and, for the webhook and the peers, the
 * first and a second request. The peers construct their app at module scope, so it is in their init; GroupGate's
 * handlers build config and clients on the first request, so it is in that one.
 */
export async function runColdStart(options: ColdStartOptions): Promise<ColdStartRow[]> {
  const slackRequests = webhookRequests(options.aws);
  const targets: Target[] = [
    ...LAMBDA_ENTRIES.map((entry) => ({
      name: entry,
      kind: 'groupgate' as const,
      label: `GroupGate ${entry}`,
      rootDir: options.rootDir,
      source: path.join(options.rootDir, 'functions', 'handlers', `${entry}.ts`),
      ...(entry === 'webhook' && slackRequests ? { requests: slackRequests } : {}),
    })),
    ...(options.baselineRoot
      ? [
          {
            name: 'webhook-baseline',
            kind: 'groupgate' as const,
            label: `GroupGate webhook, baseline (${path.basename(options.baselineRoot)})`,
            rootDir: options.baselineRoot,
            source: path.join(options.baselineRoot, 'functions', 'handlers', 'webhook.ts'),
            ...(slackRequests ? { requests: slackRequests } : {}),
          },
        ]
      : []),
    ...PEER_ENTRIES.map((p) => ({
      ...p,
      kind: 'peer' as const,
      rootDir: options.rootDir,
      source: path.join(__dirname, p.file),
      requests: p.name === 'bolt' ? boltRequests : larkRequests,
    })),
  ];
  const built = new Map<Target, { outfile: string; bytes: number; topInputs: ColdStartRow['topInputs'] }>();
  const errors = new Map<Target, string>();
  for (const target of targets) {
    if (Date.now() > options.deadline) {
      errors.set(target, 'skipped: time budget spent');
      continue;
    }
    const outfile = path.join(options.outDir, target.name, 'index.js');
    try {
      const { bytes, metafile } = await bundleLikeCdk(target.rootDir, target.source, outfile);
      built.set(target, { outfile, bytes, topInputs: topPackages(metafile, target.rootDir, 5) });
    } catch (err) {
      errors.set(target, (err as Error).message.split('\n')[0] ?? 'build failed');
    }
  }

  const runs = new Map<Target, { init: number[]; first: number[]; warm: number[]; cold: number[] }>();
  for (let round = 0; round < options.initRuns && Date.now() < options.deadline; round++) {
    for (const [target, { outfile }] of built) {
      if (errors.has(target)) continue;
      try {
        const requests = target.requests?.();
        const run = await coldRun({
          bundle: outfile,
          rootDir: options.rootDir,
          scratchDir: options.outDir,
          ...(requests ? { events: requests.events, env: requests.env } : {}),
        });
        const refused = run.statuses.find((s) => s !== 200);
        if (refused !== undefined) {
          throw new Error(`a request was answered ${refused}, not 200: ${run.errors[0]?.slice(0, 400) ?? ''}`);
        }
        const series = runs.get(target) ?? { init: [], first: [], warm: [], cold: [] };
        series.init.push(run.initMs);
        const [first, warm] = run.requestsMs;
        if (first !== undefined) {
          series.first.push(first);
          series.cold.push(run.initMs + first);
        }
        if (warm !== undefined) series.warm.push(warm);
        runs.set(target, series);
      } catch (err) {
        errors.set(target, (err as Error).message);
      }
    }
  }

  return targets.map((target) => {
    const { name, kind, label } = target;
    const bundle = built.get(target);
    const series = runs.get(target);
    const error =
      errors.get(target) ?? (bundle && (series?.init.length ?? 0) === 0 ? 'skipped: time budget spent' : undefined);
    const med = (values: readonly number[] | undefined) => (values && values.length > 0 ? median(values) : undefined);
    const figures = {
      initMedianMs: med(series?.init),
      firstRequestMedianMs: med(series?.first),
      warmRequestMedianMs: med(series?.warm),
      coldToFirstAnswerMedianMs: med(series?.cold),
    };
    return {
      name,
      kind,
      label,
      ...(bundle ? { bytes: bundle.bytes, topInputs: bundle.topInputs } : {}),
      ...Object.fromEntries(Object.entries(figures).filter(([, v]) => v !== undefined)),
      ...(series && series.init.length > 0 ? { initRunsMs: series.init } : {}),
      ...(error ? { error } : {}),
    };
  });
}

const context = () => requestOnlyContext('http://127.0.0.1:9', SANDBOX_CREDENTIALS, Date.now);

/** Two fresh signed Slack @-mentions for the webhook, with the environment that points it at the stand-ins. */
function webhookRequests(aws: LocalAws | undefined): Requests | undefined {
  if (!aws) return undefined;
  const env = {
    ...localWebhookEnv(aws),
    POWERTOOLS_SERVICE_NAME: 'webhook',
    POWERTOOLS_LOG_LEVEL: 'WARN',
  };
  return () => ({ events: [slackEvent(), slackEvent()], env });
}

function boltRequests() {
  const { signingSecret, botToken, botUserId } = SANDBOX_CREDENTIALS.slack;
  return {
    events: [slackEvent(), slackEvent()],
    env: { SLACK_SIGNING_SECRET: signingSecret, SLACK_BOT_TOKEN: botToken, SLACK_BOT_USER_ID: botUserId },
  };
}

function larkRequests() {
  const { encryptKey, verificationToken } = SANDBOX_CREDENTIALS.feishu;
  const emulator = createFeishuEmulator();
  const event = () =>
    proxyEventOf(emulator.buildMessageEvent({ chatId: 'oc_bench', userId: 'ou_alice', text: TEXT }, context()));
  return {
    events: [event(), event()],
    env: { FEISHU_ENCRYPT_KEY: encryptKey, FEISHU_VERIFICATION_TOKEN: verificationToken },
  };
}

function slackEvent() {
  return proxyEventOf(
    createSlackEmulator().buildMessageEvent({ chatId: 'C0BENCH', userId: 'U0ALICE', text: TEXT }, context()),
  );
}
