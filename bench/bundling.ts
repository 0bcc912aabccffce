import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';
import { build, type Metafile } from 'esbuild';
import { LAMBDA_BUNDLING, LAMBDA_NODE_OPTIONS } from '../lib/constructs/lambda-bundling';

/** One minified bundle and what went into it. */
export interface BuiltBundle {
  readonly bytes: number;
  readonly metafile: Metafile;
}

/**
 * Bundles an entry with the esbuild options CDK's NodejsFunction passes for this app's HouseFunction
 * (`LAMBDA_BUNDLING`, lib/constructs/lambda-bundling.ts): bundle, minify, source map without the sources' text,
 * node22, CommonJS, and `@aws-sdk/*` left to the Lambda runtime unless `sdkExternal` is false.
 */
export async function bundleLikeCdk(
  rootDir: string,
  source: string,
  outfile: string,
  sdkExternal = true,
  /** Packages the function ships beside its bundle (`shipModules`, lib/shipped-modules.ts). */
  shipped: readonly string[] = [],
): Promise<BuiltBundle> {
  const result = await build({
    absWorkingDir: rootDir,
    entryPoints: [source],
    outfile,
    bundle: true,
    minify: LAMBDA_BUNDLING.minify,
    sourcemap: LAMBDA_BUNDLING.sourceMap,
    sourcesContent: LAMBDA_BUNDLING.sourcesContent,
    platform: 'node',
    target: LAMBDA_BUNDLING.target,
    format: 'cjs',
    external: [...(sdkExternal ? LAMBDA_BUNDLING.externalModules : []), ...shipped],
    metafile: true,
    logLevel: 'silent',
  });
  return { bytes: statSync(outfile).size, metafile: result.metafile };
}

/**
 * Module-init time of one fresh-process `require()` of the bundle, in ms, with the Node options the functions are
 * deployed with (`LAMBDA_NODE_OPTIONS`, none today: stack traces are mapped on demand). `NODE_PATH` lets an sdk-external bundle
 * find `@aws-sdk/*` in node_modules, as Lambda's runtime finds its own copy.
 */
export function requireTimeMs(bundle: string, rootDir: string): number {
  const script = `const t=process.hrtime.bigint();require(${JSON.stringify(bundle)});console.log(Number(process.hrtime.bigint()-t)/1e6)`;
  const child = spawnSync(process.execPath, [...LAMBDA_NODE_OPTIONS.split(' ').filter(Boolean), '-e', script], {
    encoding: 'utf8',
    timeout: 20_000,
    env: { ...process.env, NODE_PATH: path.join(rootDir, 'node_modules'), NODE_OPTIONS: '' },
  });
  const ms = Number(child.stdout.trim().split('\n').pop());
  if (child.status !== 0 || !Number.isFinite(ms)) {
    throw new Error(`require() of ${bundle} failed: ${child.stderr.trim().split('\n').slice(0, 3).join(' | ')}`);
  }
  return ms;
}

/** The largest contributors to the minified output, grouped by npm package (own code as `(app)`). */
export function topPackages(metafile: Metafile, rootDir: string, count: number): { name: string; bytes: number }[] {
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
    .slice(0, count);
}

function packageOf(relativePath: string): string {
  const parts = relativePath.split(path.sep);
  const at = parts.lastIndexOf('node_modules');
  if (at < 0) return '(app)';
  const first = parts[at + 1] ?? '?';
  return first.startsWith('@') ? `${first}/${parts[at + 2] ?? '?'}` : first;
}
