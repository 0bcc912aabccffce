import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Stack, Stage } from 'aws-cdk-lib';
import { DockerImageAsset, Platform } from 'aws-cdk-lib/aws-ecr-assets';
import type { Construct } from 'constructs';
import { buildSync } from 'esbuild';
import { LAMBDA_BUNDLING } from './lambda-bundling';

const ROOT = path.join(__dirname, '..', '..');
/** The container's entry point: `runConnector` on the process. */
export const CONNECTOR_ENTRY = path.join(ROOT, 'functions', 'connector', 'main.ts');
/** The Dockerfile the build context gets: node:22-slim, the bundle, a non-root user, `CMD ["node", "connector.js"]`. */
export const CONNECTOR_DOCKERFILE = path.join(__dirname, 'connector-image', 'Dockerfile');
export const CONNECTOR_BUNDLE = 'connector.js';

/**
 * The connector's esbuild options: the Lambdas' (`LAMBDA_BUNDLING`: minified, source map without sources, node22),
 * except that nothing is external: no runtime provides the AWS SDK in a container. ws's optional native add-ons are
 * `require`d inside a try and left out (ws falls back to JavaScript).
 */
export const CONNECTOR_BUNDLING = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: LAMBDA_BUNDLING.target,
  minify: LAMBDA_BUNDLING.minify,
  sourcemap: LAMBDA_BUNDLING.sourceMap,
  sourcesContent: LAMBDA_BUNDLING.sourcesContent,
  external: ['bufferutil', 'utf-8-validate'],
  logLevel: 'warning',
} as const;

/**
 * Bundles the connector into `dir/connector.js` (+ `.map`) with the local esbuild, as the Lambdas are bundled: no
 * Docker, no network. Returns the bundle's size in bytes.
 */
export function bundleConnector(dir: string): number {
  const outfile = path.join(dir, CONNECTOR_BUNDLE);
  buildSync({
    ...CONNECTOR_BUNDLING,
    external: [...CONNECTOR_BUNDLING.external],
    entryPoints: [CONNECTOR_ENTRY],
    outfile,
    absWorkingDir: ROOT,
  });
  return fs.statSync(outfile).size;
}

/**
 * The connector's container image as a CDK asset, built without Docker at synth:
 * - synth (offline, no Docker): the build context (the Dockerfile plus the esbuild bundle) is written to a directory
 *   in the cloud assembly and staged by `DockerImageAsset`, which only fingerprints and copies it;
 * - `cdk deploy`: the CLI builds the image from that context for linux/arm64 (`docker build`, so Docker, or a
 *   compatible builder, is needed there and only there) and pushes it to the bootstrap ECR repository.
 * Where bundling is skipped (`aws:cdk:bundling-stacks`: the template tests), the context holds a placeholder bundle.
 */
export function connectorImageAsset(scope: Construct, id: string): DockerImageAsset {
  const stack = Stack.of(scope);
  // Inside the cloud assembly, written afresh at every synth: it stays valid where asset staging is off.
  const outdir = Stage.of(scope)?.outdir ?? os.tmpdir();
  const dir = path.join(outdir, `.${stack.artifactId}-connector-image`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(CONNECTOR_DOCKERFILE, path.join(dir, 'Dockerfile'));
  if (stack.bundlingRequired) {
    bundleConnector(dir);
  } else {
    fs.writeFileSync(path.join(dir, CONNECTOR_BUNDLE), '// bundling skipped (aws:cdk:bundling-stacks)\n');
    fs.writeFileSync(path.join(dir, `${CONNECTOR_BUNDLE}.map`), '{}\n');
  }
  return new DockerImageAsset(scope, id, { directory: dir, platform: Platform.LINUX_ARM64 });
}
