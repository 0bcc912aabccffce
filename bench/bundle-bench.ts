import { readFileSync } from 'node:fs';
import path from 'node:path';
import { bundleLikeCdk, requireTimeMs, topPackages } from './bundling';
import { median } from './stats';

export const LAMBDA_ENTRIES = ['webhook', 'worker', 'chat-api', 'jwt-authorizer', 'stream-sweeper'] as const;
export type LambdaEntry = (typeof LAMBDA_ENTRIES)[number];

/**
 * `sdk-external`: what CDK's NodejsFunction ships on nodejs22.x by default (`@aws-sdk/*` left to the runtime; this
 * app's cdk.json does not enable the flag that also leaves out `@smithy/*`). `fully-bundled`: our pinned SDK inside.
 */
export type BundleVariant = 'sdk-external' | 'fully-bundled';

export interface BundleRow {
  readonly entry: LambdaEntry;
  readonly variant: BundleVariant;
  /** The entry still throws "not implemented yet": its size says nothing about the real function. */
  readonly placeholder: boolean;
  readonly bytes?: number;
  /** Median of the fresh-process `require()` times. */
  readonly initMedianMs?: number;
  readonly initRunsMs?: readonly number[];
  /** Largest contributors to the minified output, grouped by npm package (own code as `(app)`). */
  readonly topInputs?: readonly { readonly name: string; readonly bytes: number }[];
  readonly error?: string;
}

export interface BundleBenchOptions {
  readonly rootDir: string;
  /** @default every entry */
  readonly entries?: readonly LambdaEntry[];
  readonly outDir: string;
  readonly initRuns: number;
  readonly deadline: number;
  readonly progress: (line: string) => void;
}

const PLACEHOLDER = /not implemented yet|^\/\/ Placeholder/im;

export async function runBundleBench(options: BundleBenchOptions): Promise<BundleRow[]> {
  const rows: BundleRow[] = [];
  for (const entry of options.entries ?? LAMBDA_ENTRIES) {
    const source = path.join(options.rootDir, 'functions', 'handlers', `${entry}.ts`);
    const placeholder = PLACEHOLDER.test(readFileSync(source, 'utf8'));
    for (const variant of ['sdk-external', 'fully-bundled'] as const) {
      if (Date.now() > options.deadline) {
        rows.push({ entry, variant, placeholder, error: 'skipped: time budget spent' });
        continue;
      }
      rows.push(await measureBundle(entry, variant, source, placeholder, options));
      options.progress(`bundle ${entry} (${variant}) done`);
    }
  }
  return rows;
}

async function measureBundle(
  entry: LambdaEntry,
  variant: BundleVariant,
  source: string,
  placeholder: boolean,
  options: BundleBenchOptions,
): Promise<BundleRow> {
  const outfile = path.join(options.outDir, variant, entry, 'index.js');
  try {
    const { bytes, metafile } = await bundleLikeCdk(options.rootDir, source, outfile, variant === 'sdk-external');
    const initRunsMs = measureInit(outfile, options);
    return {
      entry,
      variant,
      placeholder,
      bytes,
      initMedianMs: median(initRunsMs),
      initRunsMs,
      topInputs: topPackages(metafile, options.rootDir, 6),
    };
  } catch (err) {
    return { entry, variant, placeholder, error: (err as Error).message.split('\n')[0] ?? 'build failed' };
  }
}

/** Module-init times, one fresh Node process per run, within the time budget. */
function measureInit(bundle: string, options: BundleBenchOptions): number[] {
  const runs: number[] = [];
  for (let i = 0; i < options.initRuns && Date.now() < options.deadline; i++)
    runs.push(requireTimeMs(bundle, options.rootDir));
  return runs;
}
