import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleLikeCdk } from '../../../bench/bundling';
import { LAMBDA_NODE_OPTIONS } from '../../../lib/constructs/lambda-bundling';
import { SANDBOX_CREDENTIALS } from '../../../sandbox/defaults';
import { type LocalAws, startLocalAws } from '../../../sandbox/local-aws/index';
import { requestOnlyContext } from '../../../sandbox/platform-emulator/delivery-log';
import { createSlackEmulator } from '../../../sandbox/platform-emulator/slack';
import { buildEncryptedWeComRequest } from '../../../sandbox/platform-emulator/wecom';
import { proxyEventOf } from '../../helpers/emulated';
import { localWebhookEnv } from '../../helpers/local-aws-json';

/**
 * The deployed webhook bundle (esbuild with the stack's options) in a fresh Node process, as Lambda runs it: which
 * AWS SDK modules it loads, and when. Its cold start and its fresh-event path load none (the hand-signed client does
 * the reservation and the send); a WeCom stream refresh, the one request that reads the worker's snapshots, loads
 * the stores' lib-dynamodb commands then (sent through the same hand-signed client), and answers.
 */
let aws: LocalAws;
let dir: string;
let bundle: string;
let bundledInputs: string[];

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'webhook-cold-'));
  bundle = path.join(dir, 'index.js');
  const root = path.resolve(__dirname, '../../..');
  const built = await bundleLikeCdk(root, path.join(root, 'functions/handlers/webhook.ts'), bundle);
  bundledInputs = Object.keys(built.metafile.inputs);
  aws = await startLocalAws({ queue: { name: 'cold-start-it', visibilityTimeoutSeconds: 30, maxReceiveCount: 3 } });
}, 60_000);

afterAll(async () => {
  await aws?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Records every package the bundle requires, per phase: init, then one request after another. */
const CHILD = `
const Module = require('node:module');
const fs = require('node:fs');
const { readFileSync, writeFileSync } = fs;
const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const phases = [{ name: 'init', loaded: [], statuses: [], mapsRead: 0 }];
fs.readFileSync = function (file, ...rest) {
  if (String(file).endsWith('.map')) phases[phases.length - 1].mapsRead++;
  return readFileSync.call(this, file, ...rest);
};
const load = Module._load;
Module._load = function (request, ...rest) {
  if (!request.startsWith('node:') && !request.startsWith('.') && !request.startsWith('/')) {
    phases[phases.length - 1].loaded.push(request);
  }
  return load.call(this, request, ...rest);
};
const context = { functionName: 'webhook', awsRequestId: 'r', getRemainingTimeInMillis: () => 10000 };
(async () => {
  const { handler } = require(spec.bundle);
  for (const [name, event] of spec.requests) {
    const phase = { name, loaded: [], statuses: [], mapsRead: 0 };
    phases.push(phase);
    phase.statuses.push((await handler(event, context)).statusCode);
  }
  writeFileSync(spec.result, JSON.stringify(phases));
})().catch((err) => {
  writeFileSync(spec.result, JSON.stringify({ error: String(err && err.stack) }));
});
`;

interface Phase {
  readonly name: string;
  readonly loaded: readonly string[];
  readonly statuses: readonly number[];
  /** Reads of the bundle's source map: stack traces are mapped on demand, never on the way to an answer. */
  readonly mapsRead: number;
}

/** Runs the bundle in a child, asynchronously: dynalite lives in this process and must keep answering. */
async function runBundle(requests: readonly [string, unknown][]): Promise<Phase[]> {
  const script = path.join(dir, 'child.cjs');
  const spec = path.join(dir, 'spec.json');
  const result = path.join(dir, 'result.json');
  writeFileSync(script, CHILD);
  writeFileSync(spec, JSON.stringify({ bundle, requests, result }));
  const env = {
    PATH: process.env.PATH ?? '',
    NODE_PATH: path.resolve(__dirname, '../../../node_modules'),
    POWERTOOLS_LOG_LEVEL: 'ERROR',
    POWERTOOLS_METRICS_DISABLED: 'true',
    ...localWebhookEnv(aws),
  };
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeOptions(), script, spec], { env, stdio: 'ignore' });
    child.once('error', reject);
    child.once('close', () => resolve());
  });
  const parsed: unknown = JSON.parse(readFileSync(result, 'utf8'));
  if (!Array.isArray(parsed)) throw new Error(`the bundle failed: ${JSON.stringify(parsed)}`);
  return parsed as Phase[];
}

/** The deployed Node options, as arguments. */
const nodeOptions = (): string[] => LAMBDA_NODE_OPTIONS.split(' ').filter(Boolean);

const ctx = () => requestOnlyContext('http://127.0.0.1:9', SANDBOX_CREDENTIALS, Date.now);
const slackEvent = () =>
  proxyEventOf(createSlackEmulator().buildMessageEvent({ chatId: 'C-cold', userId: 'alice', text: 'hi' }, ctx()));
const wecomRefresh = () =>
  proxyEventOf(
    buildEncryptedWeComRequest(
      {
        msgid: `refresh-${Date.now()}`,
        aibotid: SANDBOX_CREDENTIALS.wecom.botId,
        chattype: 'single',
        from: { userid: 'alice' },
        msgtype: 'stream',
        stream: { id: 'cold-start-stream' },
      },
      ctx(),
    ),
  );

const sdk = (loaded: readonly string[]) => loaded.filter((m) => m.startsWith('@aws-sdk/'));

describe('the webhook bundle, started as Lambda starts it', () => {
  it('carries no X-Ray SDK: the stream refresh store is built without tracing', () => {
    expect(bundledInputs.length).toBeGreaterThan(50);
    expect(bundledInputs.filter((file) => /aws-xray-sdk-core|powertools\/tracer|cls-hooked/.test(file))).toEqual([]);
  });

  it('loads no AWS SDK module at init nor on fresh events, and only a stream refresh loads its DynamoDB client', async () => {
    const phases = await runBundle([
      ['first event', slackEvent()],
      ['second event', slackEvent()],
      ['stream refresh', wecomRefresh()],
    ]);
    expect(phases.map((p) => [p.name, p.statuses])).toEqual([
      ['init', []],
      ['first event', [200]],
      ['second event', [200]],
      ['stream refresh', [200]],
    ]);
    const [init, first, second, refresh] = phases;
    expect(sdk(init?.loaded ?? [])).toEqual([]);
    expect(sdk(first?.loaded ?? [])).toEqual([]);
    expect(sdk(second?.loaded ?? [])).toEqual([]);
    // Powertools Parameters (and its Secrets Manager client) is never loaded: the webhook reads secrets itself.
    expect(phases.flatMap((p) => p.loaded).filter((m) => m.includes('parameters'))).toEqual([]);
    expect(sdk(refresh?.loaded ?? [])).toEqual(expect.arrayContaining(['@aws-sdk/lib-dynamodb']));
    // The source map is read only to format a stack trace, which no answer needs.
    expect(phases.map((p) => [p.name, p.mapsRead])).toEqual(phases.map((p) => [p.name, 0]));
  }, 60_000);
});
