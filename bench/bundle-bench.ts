import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { build, type Metafile } from 'esbuild';
import { median } from './stats';

export const LAMBDA_ENTRIES = ['webhook', 'worker', 'chat-api', 'jwt-authorizer'] as const;
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
  readonly outDir: string;
  readonly initRuns: number;
  readonly deadline: number;
  readonly progress: (line: string) => void;
}

const PLACEHOLDER = /not implemented yet|^\/\/ Placeholder/im;

export async function runBundleBench(options: BundleBenchOptions): Promise<BundleRow[]> {
  const rows: BundleRow[] = [];
  for (const entry of LAMBDA_ENTRIES) {
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
    // The options CDK's NodejsFunction passes esbuild for this app's HouseFunction (lib/constructs/house-function.ts).
    const result = await build({
      absWorkingDir: options.rootDir,
      entryPoints: [source],
      outfile,
      bundle: true,
      minify: true,
      sourcemap: true,
      platform: 'node',
      target: 'node22',
      format: 'cjs',
      external: variant === 'sdk-external' ? ['@aws-sdk/*'] : [],
      metafile: true,
      logLevel: 'silent',
    });
    const bytes = statSync(outfile).size;
    const initRunsMs = measureInit(outfile, options);
    return {
      entry,
      variant,
      placeholder,
      bytes,
      initMedianMs: median(initRunsMs),
      initRunsMs,
      topInputs: topInputs(result.metafile, options.rootDir),
    };
  } catch (err) {
    return { entry, variant, placeholder, error: (err as Error).message.split('\n')[0] ?? 'build failed' };
  }
}

/**
 * Module-init time in a fresh Node process per run. `NODE_PATH` lets the sdk-external bundle find `@aws-sdk/*` in
 * node_modules, as Lambda's runtime finds its own copy.
 */
function measureInit(bundle: string, options: BundleBenchOptions): number[] {
  const script = `const t=process.hrtime.bigint();require(${JSON.stringify(bundle)});console.log(Number(process.hrtime.bigint()-t)/1e6)`;
  const runs: number[] = [];
  for (let i = 0; i < options.initRuns && Date.now() < options.deadline; i++) {
    const child = spawnSync(process.execPath, ['-e', script], {
      encoding: 'utf8',
      timeout: 20_000,
      env: { ...process.env, NODE_PATH: path.join(options.rootDir, 'node_modules'), NODE_OPTIONS: '' },
    });
    const ms = Number(child.stdout.trim().split('\n').pop());
    if (child.status !== 0 || !Number.isFinite(ms)) {
      throw new Error(`require() of ${bundle} failed: ${child.stderr.trim().split('\n').slice(0, 3).join(' | ')}`);
    }
    runs.push(ms);
  }
  return runs;
}

function topInputs(metafile: Metafile, rootDir: string): { name: string; bytes: number }[] {
  const byName = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const name = packageOf(path.relative(rootDir, path.resolve(rootDir, input)));
      byName.set(name, (byName.get(name) ?? 0) + bytesInOutput);
    }
  }
  return [...byName]
    .map(([name, bytes]) => ({ name, bytes }))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, 6);
}

function packageOf(relativePath: string): string {
  const parts = relativePath.split(path.sep);
  const at = parts.lastIndexOf('node_modules');
  if (at < 0) return '(app)';
  const first = parts[at + 1] ?? '?';
  return first.startsWith('@') ? `${first}/${parts[at + 2] ?? '?'}` : first;
}
