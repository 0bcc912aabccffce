import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { SANDBOX_READY_FILE_ENV, type SandboxReady, waitForReadyFile } from '../../sandbox/ready-file';

/**
 * `npm start`'s entry as a person meets it: the health route, a console for people (aligned, no JSON) and a ready
 * file for programs, Ctrl-C and SIGTERM stopping every part (the fauxqs child, dynalite, the model server), and clear
 * refusals of a busy port, a bad PORT or a bad SANDBOX_READY_FILE.
 */
const ROOT = resolve(__dirname, '../..');
const TSX_CLI = resolve(ROOT, 'node_modules/tsx/dist/cli.mjs');

interface Launched {
  readonly child: ChildProcess;
  /** stdout and stderr lines, in arrival order. */
  readonly lines: string[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Where the sandbox was told to write its ready file. */
  readonly readyFile: string;
  /** Resolves with the ready file's contents; rejects if the process exits first. */
  readonly ready: Promise<SandboxReady>;
}

const running: ChildProcess[] = [];
const readyDirs: string[] = [];

afterEach(() => {
  // A failed assertion must not leave a sandbox behind; each was started in its own process group.
  for (const child of running.splice(0)) {
    if (child.exitCode === null && child.signalCode === null && child.pid) process.kill(-child.pid, 'SIGKILL');
  }
  for (const dir of readyDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function launch(env: Record<string, string>): Launched {
  const readyDir = mkdtempSync(join(tmpdir(), 'groupgate-lifecycle-'));
  readyDirs.push(readyDir);
  const readyFile = join(readyDir, 'ready.json');
  // What `npm start` runs (`node --import tsx bin/sandbox.ts`): one process, no launcher relaying signals.
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/sandbox.ts'], {
    cwd: ROOT,
    env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'WARN', [SANDBOX_READY_FILE_ENV]: readyFile, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so a test can send Ctrl-C's SIGINT to every process in it, as a terminal does.
    detached: true,
  });
  running.push(child);
  const lines: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.once('exit', (code, signal) => done({ code, signal })),
  );
  createInterface({ input: child.stdout! }).on('line', (line) => lines.push(line));
  createInterface({ input: child.stderr! }).on('line', (line) => lines.push(line));
  const ready = waitForReadyFile(readyFile, { timeoutMs: 55_000, exited: exited.then(({ code }) => code) });
  ready.catch(() => undefined);
  return { child, lines, exited, readyFile, ready };
}

/**
 * The banner's service rows (between its title and the credentials), label → value lines, checking on the way that
 * every value, and every wrapped continuation, starts in one column.
 */
function bannerRows(lines: readonly string[]): Map<string, string[]> {
  const start = lines.findIndex((l) => l.startsWith('GroupGate sandbox — '));
  const end = lines.findIndex((l) => l.startsWith('  sandbox credentials'));
  expect({ start: start >= 0, end: end > start }).toEqual({ start: true, end: true });
  const rows = new Map<string, string[]>();
  const columns = new Set<number>();
  let label = '';
  for (const line of lines.slice(start + 1, end)) {
    const row = /^ {2}(\S(?:.*?\S)?) {2,}(\S.*)$/.exec(line);
    const continued = /^( +)(\S.*)$/.exec(line);
    if (row && !line.startsWith('   ')) {
      label = row[1] ?? '';
      rows.set(label, [row[2] ?? '']);
      columns.add(line.length - (row[2] ?? '').length);
    } else if (continued && label) {
      rows.get(label)?.push(continued[2] ?? '');
      columns.add(continued[1]?.length ?? 0);
    } else throw new Error(`not a banner row: ${JSON.stringify(line)}`);
  }
  expect(columns.size).toBe(1);
  return rows;
}

/** A JWT the sandbox's authorizer accepts, from its own mint script, as the README shows. */
async function mintSandboxToken(): Promise<string> {
  const child = spawn(process.execPath, [TSX_CLI, 'sandbox/mint-token.ts', '--sub', 'alice'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  await new Promise((done) => child.once('exit', done));
  return out.trim().split('\n').pop() ?? '';
}

/** Resolves once the console printed a line matching `pattern` (the banner ends with "ready in …"). */
async function consoleLine(started: Launched, pattern: RegExp): Promise<string> {
  for (;;) {
    const line = started.lines.find((l) => pattern.test(l));
    if (line !== undefined) return line;
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Alive means scheduled to run: a zombie has exited and only waits to be reaped. */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The error code a connection attempt to `url` fails with, or 'connected'. */
async function connectOutcome(url: string): Promise<string> {
  try {
    await fetch(url, { signal: AbortSignal.timeout(2_000) });
    return 'connected';
  } catch (err) {
    return ((err as Error & { cause?: { code?: string } }).cause?.code ?? String(err)) as string;
  }
}

function listenOnFreePort(): Promise<Server> {
  return new Promise((done, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => done(server));
  });
}

async function expectStoppedCleanly(started: Launched, info: SandboxReady, signalLabel: string): Promise<void> {
  const { code, signal } = await started.exited;
  expect({ code, signal }).toEqual({ code: 0, signal: null });
  expect(started.lines).toContain(`sandbox: ${signalLabel} received, stopping…`);
  // Gone with the sandbox, so a stale file never announces the next run.
  expect(existsSync(started.readyFile)).toBe(false);
  for (const pid of [started.child.pid!, info.pid, info.fauxqsPid]) expect(isRunning(pid)).toBe(false);
  const { dynamo, sqs, model, fallbackModel } = info.endpoints;
  for (const url of [info.url, dynamo, sqs, model, ...(fallbackModel ? [fallbackModel] : [])])
    await expect(connectOutcome(url)).resolves.toBe('ECONNREFUSED');
}

describe('npm start lifecycle', () => {
  it('answers GET /_sandbox/health 503 {"ready":false} while starting and 200 {"ready":true} once ready', async () => {
    const started = launch({ PORT: '0' });
    let isReady = false;
    void started.ready.then(() => {
      isReady = true;
    });
    // The HTTP server listens first; dynalite, fauxqs and the demo model start behind it.
    const gateway = /^sandbox: API Gateway stand-in on (\S+)$/;
    let base: string | undefined;
    while (!base && !isReady) {
      base = started.lines.map((l) => gateway.exec(l)?.[1]).find(Boolean);
      await new Promise((r) => setTimeout(r, 20));
    }
    const whileStarting: { status: number; body: unknown }[] = [];
    while (!isReady && base) {
      const res = await fetch(`${base}/_sandbox/health`);
      whileStarting.push({ status: res.status, body: await res.json() });
      await new Promise((r) => setTimeout(r, 50));
    }
    const info = await started.ready;
    expect(whileStarting.length).toBeGreaterThan(0);
    expect(whileStarting[0]).toEqual({ status: 503, body: { ready: false } });
    for (const seen of whileStarting)
      expect([
        JSON.stringify({ status: 503, body: { ready: false } }),
        JSON.stringify({ status: 200, body: { ready: true } }),
      ]).toContain(JSON.stringify(seen));

    const res = await fetch(`${info.url}/_sandbox/health`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(await res.json()).toEqual({ ready: true });
    // The ready line names processes and servers that are really there.
    expect(isRunning(info.pid)).toBe(true);
    expect(isRunning(info.fauxqsPid)).toBe(true);
    // The backup engine runs by default, so the ready file names it too.
    expect(info.endpoints.fallbackModel).toMatch(/^http:\/\/127\.0\.0\.1:\d+/);
    for (const url of [info.endpoints.dynamo, info.endpoints.sqs, info.endpoints.model, info.endpoints.fallbackModel])
      await expect(connectOutcome(url ?? '')).resolves.toBe('connected');
    await expect(consoleLine(started, /^ready in /)).resolves.toMatch(
      /^ready in \d+\.\d s \(GET .*\/_sandbox\/health is green\)/,
    );
    started.child.kill('SIGTERM');
    await started.exited;
  }, 60_000);

  it('stops every part and exits 0 on Ctrl-C (SIGINT to the whole process group) with the demo llama model', async () => {
    const started = launch({ PORT: '0' });
    const info = await started.ready;
    await consoleLine(started, /^ready in /);
    expect(bannerRows(started.lines).get('model')).toEqual(['GroupGate demo model (generated)']);
    process.kill(-started.child.pid!, 'SIGINT');
    await expectStoppedCleanly(started, info, 'SIGINT');
  }, 60_000);

  it('prints a console for people: service rows in one column, long values wrapped under it, no JSON line', async () => {
    const started = launch({ PORT: '0' });
    const info = await started.ready;
    await consoleLine(started, /^ready in /);
    const rows = bannerRows(started.lines);
    expect([...rows.keys()]).toEqual([
      'chat page',
      'webhooks',
      'REST API',
      'sandbox routes',
      'DynamoDB (dynalite)',
      'SQS (fauxqs)',
      'model',
      'backup model',
      'primary switch',
      'NOTE',
    ]);
    expect(rows.get('chat page')).toEqual([`${info.url}/`]);
    expect(rows.get('DynamoDB (dynalite)')).toEqual([info.endpoints.dynamo]);
    expect(rows.get('SQS (fauxqs)')).toEqual([info.endpoints.sqs]);
    // The demo model's note is wrapped into several lines under the value column.
    expect(rows.get('NOTE')?.length).toBeGreaterThan(1);
    expect(rows.get('NOTE')?.join(' ')).toMatch(
      /^The demo model is a tiny network .* MODEL_ENDPOINT_URL=http:\/\/host:port npm start$/,
    );
    // Machine-readable output goes to the ready file only.
    expect(started.lines.filter((l) => l.trimStart().startsWith('{'))).toEqual([]);
    expect(JSON.parse(readFileSync(started.readyFile, 'utf8'))).toEqual(info);
    process.kill(-started.child.pid!, 'SIGINT');
    await expectStoppedCleanly(started, info, 'SIGINT');
  }, 60_000);

  it('logs a refused webhook and a refused /v1/chat call without a Powertools "No application metrics" warning', async () => {
    const started = launch({ PORT: '0', MODEL_ENGINE: 'instant' });
    const info = await started.ready;
    const unsigned = await fetch(`${info.url}/webhook/slack`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'event_callback', event_id: 'Ev-unsigned' }),
    });
    expect(unsigned.status).toBe(401);
    // A valid API key and token with a body the chat-api handler refuses: the handler runs and answers 400.
    const token = await mintSandboxToken();
    const refused = await fetch(`${info.url}/v1/chat`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-api-key': 'sandbox-api-key',
        authorization: `Bearer ${token}`,
        'x-group-id': 'eng',
        'x-user-id': 'alice',
      },
      body: JSON.stringify({ nope: true }),
    });
    expect(refused.status).toBe(400);
    // Both refusals are logged (Powertools WARN lines on the console), and nothing else about them.
    await consoleLine(started, /"message":"chat rejected"/);
    expect(started.lines.some((l) => l.includes('"message":"webhook rejected"'))).toBe(true);
    expect(started.lines.filter((l) => l.includes('No application metrics'))).toEqual([]);
    process.kill(-started.child.pid!, 'SIGINT');
    await expectStoppedCleanly(started, info, 'SIGINT');
  }, 60_000);

  it('still stops cleanly when Ctrl-C arrives again while stopping (a second press, or npm relaying it)', async () => {
    const started = launch({ PORT: '0', MODEL_ENGINE: 'instant' });
    const info = await started.ready;
    process.kill(-started.child.pid!, 'SIGINT');
    await new Promise((r) => setTimeout(r, 30));
    if (started.child.exitCode === null) process.kill(-started.child.pid!, 'SIGINT');
    await expectStoppedCleanly(started, info, 'SIGINT');
    expect(started.lines.filter((l) => l.includes('received, stopping'))).toHaveLength(1);
  }, 60_000);

  it('stops every part and exits 0 on SIGTERM to the npm start process alone', async () => {
    const started = launch({ PORT: '0', MODEL_ENGINE: 'instant' });
    const info = await started.ready;
    started.child.kill('SIGTERM');
    await expectStoppedCleanly(started, info, 'SIGTERM');
  }, 60_000);

  it('refuses a busy port with a clear message and a non-zero exit, starting nothing', async () => {
    const blocker = await listenOnFreePort();
    try {
      const port = (blocker.address() as { port: number }).port;
      const started = launch({ PORT: String(port), MODEL_ENGINE: 'instant' });
      await expect(started.ready).rejects.toThrow(/exited with 1 before ready/);
      expect(started.lines).toContain(
        `sandbox: failed to start: Port ${port} is busy. Stop the other process or choose another port: PORT=3001 npm start`,
      );
      expect(started.lines.some((l) => l.includes('DynamoDB (dynalite) on'))).toBe(false);
    } finally {
      await new Promise((done) => blocker.close(done));
    }
  }, 60_000);

  it('refuses a SANDBOX_READY_FILE in a folder that does not exist, naming the variable, before starting anything', async () => {
    const missing = join(tmpdir(), `groupgate-no-such-folder-${process.pid}`, 'ready.json');
    const started = launch({ PORT: '0', MODEL_ENGINE: 'instant', [SANDBOX_READY_FILE_ENV]: missing });
    await expect(started.ready).rejects.toThrow(/exited with 1 before ready/);
    expect(started.lines.join('\n')).toContain(
      `sandbox: failed to start: Invalid configuration:\n  - ${SANDBOX_READY_FILE_ENV}: folder ${dirname(missing)} does not exist`,
    );
    expect(started.lines.some((l) => l.startsWith('sandbox: API Gateway stand-in on'))).toBe(false);
  }, 60_000);

  it.each(['abc', '70000', '-1', '3.5'])(
    'refuses PORT=%s with a clear message and a non-zero exit',
    async (port) => {
      const started = launch({ PORT: port, MODEL_ENGINE: 'instant' });
      await expect(started.ready).rejects.toThrow(/exited with 1 before ready/);
      expect(started.lines).toContain(`sandbox: failed to start: PORT must be an integer 0–65535, got '${port}'`);
    },
    60_000,
  );
});
