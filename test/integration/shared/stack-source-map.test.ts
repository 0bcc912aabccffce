import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sourcePath } from '#shared/stack-source-map';
import { bundleLikeCdk } from '../../../bench/bundling';
import { LAMBDA_NODE_OPTIONS } from '../../../lib/constructs/lambda-bundling';

/**
 * A bundle built as the stack builds its functions (`bundleLikeCdk`), run as Lambda runs it (the deployed Node options, which no
 * longer include --enable-source-maps): its stack traces still name the TypeScript sources, and the map is read
 * when the first stack is formatted, not when the bundle loads.
 */
let dir: string;
let bundle: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'stack-map-'));
  bundle = path.join(dir, 'index.js');
  await bundleLikeCdk(
    path.resolve(__dirname, '../../..'),
    path.join(__dirname, 'fixtures', 'throwing-entry.ts'),
    bundle,
  );
}, 30_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Loads the bundle in a fresh process and reports map reads before and after the first stack is formatted. */
function runBundle(extraOptions: readonly string[] = []): { mapReadsAtLoad: number; mapReads: number; stack: string } {
  const script = `
    const fs = require('node:fs');
    const read = fs.readFileSync;
    let mapReads = 0;
    fs.readFileSync = function (file, ...rest) { if (String(file).endsWith('.map')) mapReads++; return read.call(this, file, ...rest); };
    const entry = require(${JSON.stringify(bundle)});
    const mapReadsAtLoad = mapReads;
    const stack = entry.startUp();
    entry.startUp();
    console.log(JSON.stringify({ mapReadsAtLoad, mapReads, stack }));
  `;
  const child = spawnSync(
    process.execPath,
    [...LAMBDA_NODE_OPTIONS.split(' ').filter(Boolean), ...extraOptions, '-e', script],
    { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } },
  );
  if (child.status !== 0) throw new Error(child.stderr);
  return JSON.parse(child.stdout) as { mapReadsAtLoad: number; mapReads: number; stack: string };
}

it('names the TypeScript sources in stack traces, reading the map once, at the first trace', () => {
  const { mapReadsAtLoad, mapReads, stack } = runBundle();
  expect(mapReadsAtLoad).toBe(0);
  expect(mapReads).toBe(1);
  // The header is V8's (the class name is the minified one, as with --enable-source-maps); then the frames.
  expect(stack).toMatch(/^\w+: Invalid configuration:\n {2}- QUEUE_URL: not set\n/);
  const frames = stack.split('\n').filter((line) => line.startsWith('    at '));
  expect(frames[0]).toBe('    at readSettings (test/integration/shared/fixtures/throwing-entry.ts:6:9)');
  expect(frames[1]).toMatch(/^ {4}at \S+ \(test\/integration\/shared\/fixtures\/throwing-entry\.ts:11:5\)$/);
  // Frames outside the bundle stay as V8 prints them.
  expect(frames.slice(2).join('\n')).not.toContain('index.js');
});

it('leaves Node its own mapping when --enable-source-maps is on', () => {
  const { mapReadsAtLoad, stack } = runBundle(['--enable-source-maps']);
  expect(mapReadsAtLoad).toBe(0); // Node reads the map itself, not through the patched fs
  expect(stack).toContain('throwing-entry.ts:6:9');
});

it('shortens the map’s build-relative paths to the repository’s', () => {
  expect(sourcePath('../../../work/main/functions/core/errors.ts')).toBe('functions/core/errors.ts');
  expect(sourcePath('../../node_modules/zod/v4/core/core.js')).toBe('node_modules/zod/v4/core/core.js');
  expect(sourcePath('../../src/other.ts')).toBe('src/other.ts');
});
