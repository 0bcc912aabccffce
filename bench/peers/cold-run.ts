import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { LAMBDA_NODE_OPTIONS } from '../../lib/constructs/lambda-bundling';

/**
 * One cold start of a bundle in a fresh Node process with the deployed Node options: the module init (`require()`),
 * then, when requests are given, each handler call in turn — the first pays what the function defers to its first
 * request (GroupGate: config, clients, the platform adapter, first connections), the next is a warm one.
 */
export interface ColdRun {
  readonly initMs: number;
  /** One per request given, in order. */
  readonly requestsMs: readonly number[];
  readonly statuses: readonly number[];
  /** The child's ERROR log lines (Powertools JSON), to say why a request was not answered 200. */
  readonly errors: readonly string[];
}

export interface ColdRunSpec {
  readonly bundle: string;
  /** For `NODE_PATH`: sdk-external bundles find `@aws-sdk/*` there, as Lambda's runtime finds its own copy. */
  readonly rootDir: string;
  /** API Gateway events passed to `handler` one after the other. */
  readonly events?: readonly unknown[];
  readonly env?: Readonly<Record<string, string>>;
  /** Where the child script and its result file go. */
  readonly scratchDir: string;
}

/** Plain JavaScript so the child starts as Lambda's runtime does, with no TypeScript loader in the way. */
const CHILD = `
const { readFileSync, writeFileSync } = require('node:fs');
const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const since = (t) => Number(process.hrtime.bigint() - t) / 1e6;
const context = {
  functionName: 'bench', functionVersion: '$LATEST', memoryLimitInMB: '512',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:bench',
  logGroupName: '/aws/lambda/bench', logStreamName: 'bench', callbackWaitsForEmptyEventLoop: true,
  getRemainingTimeInMillis: () => 10000, done() {}, fail() {}, succeed() {},
};
(async () => {
  const started = process.hrtime.bigint();
  const mod = require(spec.bundle);
  const initMs = since(started);
  const requestsMs = [];
  const statuses = [];
  for (const [i, event] of spec.events.entries()) {
    const t = process.hrtime.bigint();
    const res = await mod.handler(event, { ...context, awsRequestId: 'bench-' + i });
    requestsMs.push(since(t));
    statuses.push(res && res.statusCode);
  }
  writeFileSync(spec.resultFile, JSON.stringify({ initMs, requestsMs, statuses }));
  process.exit(0);
})().catch((err) => {
  writeFileSync(spec.resultFile, JSON.stringify({ error: String((err && err.stack) || err) }));
  process.exit(1);
});
`;

let sequence = 0;

/**
 * Runs the child asynchronously: the stand-ins of the first request (dynalite) may live in this process, which must
 * keep serving them while the child runs.
 */
export async function coldRun(spec: ColdRunSpec): Promise<ColdRun> {
  const id = `${process.pid}-${++sequence}`;
  const script = path.join(spec.scratchDir, 'cold-run-child.cjs');
  const specFile = path.join(spec.scratchDir, `cold-run-${id}.json`);
  const resultFile = path.join(spec.scratchDir, `cold-run-${id}.result.json`);
  writeFileSync(script, CHILD);
  writeFileSync(specFile, JSON.stringify({ bundle: spec.bundle, events: spec.events ?? [], resultFile }));
  const child = await run(process.execPath, [...LAMBDA_NODE_OPTIONS.split(' ').filter(Boolean), script, specFile], {
    ...process.env,
    ...spec.env,
    NODE_PATH: path.join(spec.rootDir, 'node_modules'),
    NODE_OPTIONS: '',
  });
  let result: Partial<ColdRun> & { error?: string };
  try {
    result = JSON.parse(readFileSync(resultFile, 'utf8')) as typeof result;
  } catch {
    throw new Error(
      `cold run of ${spec.bundle} wrote no result: ${child.stderr.trim().split('\n').slice(0, 3).join(' | ')}`,
    );
  }
  if (result.error || result.initMs === undefined) {
    const logged = child.stdout.split('\n').find((line) => line.includes('"level":"ERROR"')) ?? '';
    throw new Error(`cold run of ${spec.bundle} failed: ${(result.error ?? 'no init time').split('\n')[0]} ${logged}`);
  }
  const errors = child.stdout.split('\n').filter((line) => line.includes('"level":"ERROR"'));
  return { initMs: result.initMs, requestsMs: result.requestsMs ?? [], statuses: result.statuses ?? [], errors };
}

function run(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.once('error', reject);
    child.once('close', () => resolve({ stdout, stderr }));
  });
}
