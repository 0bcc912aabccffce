import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';
import { build, type Metafile } from 'esbuild';
import { median } from '../stats';

/** The minimal peer Lambdas built for the cold-start comparison; each file exports `handler`. */
export const PEER_ENTRIES = [
  { peer: 'bolt', label: '@slack/bolt 5.1.0 (App + AwsLambdaReceiver)', file: 'bolt-lambda.ts' },
  { peer: 'lark', label: '@larksuiteoapi/node-sdk 1.74.0 (EventDispatcher)', file: 'lark-lambda.ts' },
] as const;
export type PeerName = (typeof PEER_ENTRIES)[number]['peer'];

export interface PeerBundleRow {
  readonly peer: PeerName;
  readonly label: string;
  readonly bytes?: number;
  /** Median of the fresh-process `require()` times. */
  readonly initMedianMs?: number;
  readonly initRunsMs?: readonly number[];
  /** Largest contributors to the minified output, by npm package. */
  readonly topInputs?: readonly { readonly name: string; readonly bytes: number }[];
  readonly error?: string;
}

export interface PeerBundleOptions {
  readonly rootDir: string;
  readonly outDir: string;
  readonly initRuns: number;
  readonly deadline: number;
}

/**
 * Bundles each peer entry with the esbuild options bench/bundle-bench.ts uses for GroupGate's functions (those of
 * CDK's NodejsFunction: bundle, minify, source map, node22, cjs, `@aws-sdk/*` external — the peers use none of it)
 * and times module init the same way: `require()` in a fresh Node process per run, which for these entries includes
 * constructing the app, as their module scope does.
 */
export async function runPeerBundles(options: PeerBundleOptions): Promise<PeerBundleRow[]> {
  const rows: PeerBundleRow[] = [];
  for (const { peer, label, file } of PEER_ENTRIES) {
    if (Date.now() > options.deadline) {
      rows.push({ peer, label, error: 'skipped: time budget spent' });
      continue;
    }
    const outfile = path.join(options.outDir, peer, 'index.js');
    try {
      const result = await build({
        absWorkingDir: options.rootDir,
        entryPoints: [path.join(__dirname, file)],
        outfile,
        bundle: true,
        minify: true,
        sourcemap: true,
        platform: 'node',
        target: 'node22',
        format: 'cjs',
        external: ['@aws-sdk/*'],
        metafile: true,
        logLevel: 'silent',
      });
      const initRunsMs = measureInit(outfile, options);
      rows.push({
        peer,
        label,
        bytes: statSync(outfile).size,
        initMedianMs: median(initRunsMs),
        initRunsMs,
        topInputs: topPackages(result.metafile),
      });
    } catch (err) {
      rows.push({ peer, label, error: (err as Error).message.split('\n')[0] ?? 'build failed' });
    }
  }
  return rows;
}

function measureInit(bundle: string, options: PeerBundleOptions): number[] {
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

function topPackages(metafile: Metafile): { name: string; bytes: number }[] {
  const byName = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const parts = input.split('/');
      const at = parts.lastIndexOf('node_modules');
      const first = at < 0 ? '(entry)' : (parts[at + 1] ?? '?');
      const name = first.startsWith('@') ? `${first}/${parts[at + 2] ?? '?'}` : first;
      byName.set(name, (byName.get(name) ?? 0) + bytesInOutput);
    }
  }
  return [...byName]
    .map(([name, bytes]) => ({ name, bytes }))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, 5);
}
