import path from 'node:path';
import { LAMBDA_ENTRIES } from '../bundle-bench';
import { bundleLikeCdk, requireTimeMs, topPackages } from '../bundling';
import { median } from '../stats';

/** The minimal peer Lambdas built for the cold-start comparison; each file exports `handler`. */
const PEER_ENTRIES = [
  { name: 'bolt', label: '@slack/bolt 5.1.0 (App + AwsLambdaReceiver)', file: 'bolt-lambda.ts' },
  { name: 'lark', label: '@larksuiteoapi/node-sdk 1.74.0 (EventDispatcher)', file: 'lark-lambda.ts' },
] as const;

export interface ColdStartRow {
  /** A GroupGate Lambda entry (`webhook`, `worker`, …) or a peer (`bolt`, `lark`). */
  readonly name: string;
  readonly kind: 'groupgate' | 'peer';
  readonly label: string;
  readonly bytes?: number;
  /** Median of the fresh-process `require()` times. */
  readonly initMedianMs?: number;
  readonly initRunsMs?: readonly number[];
  /** Largest contributors to the minified output, by npm package. */
  readonly topInputs?: readonly { readonly name: string; readonly bytes: number }[];
  readonly error?: string;
}

export interface ColdStartOptions {
  readonly rootDir: string;
  readonly outDir: string;
  readonly initRuns: number;
  readonly deadline: number;
}

interface Target {
  readonly name: string;
  readonly kind: ColdStartRow['kind'];
  readonly label: string;
  readonly source: string;
}

/**
 * Bundles GroupGate's functions (the `sdk-external` variant CDK ships) and each peer entry with the esbuild options
 * bench/bundle-bench.ts uses (CDK NodejsFunction's: bundle, minify, source map, node22, cjs, `@aws-sdk/*` external —
 * the peers use none of it), then times module init as it does — `require()` in a fresh Node process — but in
 * rounds over all bundles, so load from other work on the shared machine falls on GroupGate and peers alike.
 * For the peers init includes constructing the app, as their module scope does; GroupGate's handlers build their
 * clients on the first request instead.
 */
export async function runColdStart(options: ColdStartOptions): Promise<ColdStartRow[]> {
  const targets: Target[] = [
    ...LAMBDA_ENTRIES.map((entry) => ({
      name: entry,
      kind: 'groupgate' as const,
      label: `GroupGate ${entry}`,
      source: path.join(options.rootDir, 'functions', 'handlers', `${entry}.ts`),
    })),
    ...PEER_ENTRIES.map((p) => ({ ...p, kind: 'peer' as const, source: path.join(__dirname, p.file) })),
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
      const { bytes, metafile } = await bundleLikeCdk(options.rootDir, target.source, outfile);
      built.set(target, { outfile, bytes, topInputs: topPackages(metafile, options.rootDir, 5) });
    } catch (err) {
      errors.set(target, (err as Error).message.split('\n')[0] ?? 'build failed');
    }
  }

  const runs = new Map<Target, number[]>();
  for (let round = 0; round < options.initRuns && Date.now() < options.deadline; round++) {
    for (const [target, { outfile }] of built) {
      if (errors.has(target)) continue;
      try {
        runs.set(target, [...(runs.get(target) ?? []), requireTimeMs(outfile, options.rootDir)]);
      } catch (err) {
        errors.set(target, (err as Error).message);
      }
    }
  }

  return targets.map((target) => {
    const { name, kind, label } = target;
    const bundle = built.get(target);
    const initRunsMs = runs.get(target) ?? [];
    const error = errors.get(target) ?? (bundle && initRunsMs.length === 0 ? 'skipped: time budget spent' : undefined);
    return {
      name,
      kind,
      label,
      ...(bundle ? { bytes: bundle.bytes, topInputs: bundle.topInputs } : {}),
      ...(initRunsMs.length > 0 ? { initMedianMs: median(initRunsMs), initRunsMs } : {}),
      ...(error ? { error } : {}),
    };
  });
}
