import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';

/**
 * `npm start`'s entry as a person meets it: the health route, Ctrl-C and SIGTERM stopping every part (the fauxqs
 * child, dynalite, the model server), and clear refusals of a busy port or a bad PORT.
 */
const ROOT = resolve(__dirname, '../..');
const TSX_CLI = resolve(ROOT, 'node_modules/tsx/dist/cli.mjs');

/** The machine-readable line bin/sandbox.ts prints once every part is up. */
interface ReadyLine {
  event: 'ready';
  url: string;
  pid: number;
  fauxqsPid: number;
  endpoints: { dynamo: string; sqs: string; model: string };
}

interface Launched {
  readonly child: ChildProcess;
  /** stdout and stderr lines, in arrival order. */
  readonly lines: string[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the ready line; rejects if the process exits first. */
  readonly ready: Promise<ReadyLine>;
}

const running: ChildProcess[] = [];

afterEach(() => {
  // A failed assertion must not leave a sandbox behind; each was started in its own process group.
  for (const child of running.splice(0)) {
    if (child.exitCode === null && child.signalCode === null && child.pid) process.kill(-child.pid, 'SIGKILL');
  }
});

function launch(env: Record<string, string>): Launched {
  const child = spawn(process.execPath, [TSX_CLI, 'bin/sandbox.ts'], {
    cwd: ROOT,
    env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'WARN', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so a test can send Ctrl-C's SIGINT to every process in it, as a terminal does.
    detached: true,
  });
  running.push(child);
  const lines: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.once('exit', (code, signal) => done({ code, signal })),
  );
  const ready = new Promise<ReadyLine>((resolveReady, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      if (line.startsWith('{"event":"ready"')) resolveReady(JSON.parse(line) as ReadyLine);
    });
    createInterface({ input: child.stderr! }).on('line', (line) => lines.push(line));
    void exited.then(({ code }) => reject(new Error(`sandbox exited with ${code} before ready:\n${lines.join('\n')}`)));
  });
  ready.catch(() => undefined);
  return { child, lines, exited, ready };
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

async function expectStoppedCleanly(started: Launched, info: ReadyLine, signalLabel: string): Promise<void> {
  const { code, signal } = await started.exited;
  expect({ code, signal }).toEqual({ code: 0, signal: null });
  expect(started.lines).toContain(`sandbox: ${signalLabel} received, stopping…`);
  for (const pid of [started.child.pid!, info.pid, info.fauxqsPid]) expect(isRunning(pid)).toBe(false);
  for (const url of [info.url, info.endpoints.dynamo, info.endpoints.sqs, info.endpoints.model])
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
    for (const url of [info.endpoints.dynamo, info.endpoints.sqs, info.endpoints.model])
      await expect(connectOutcome(url)).resolves.toBe('connected');
    expect(started.lines.some((l) => /^ready in \d+\.\d s \(GET .*\/_sandbox\/health is green\)/.test(l))).toBe(true);
    started.child.kill('SIGTERM');
    await started.exited;
  }, 60_000);

  it('stops every part and exits 0 on Ctrl-C (SIGINT to the whole process group) with the demo llama model', async () => {
    const started = launch({ PORT: '0' });
    const info = await started.ready;
    expect(started.lines).toContain('  model              GroupGate demo model (generated)');
    process.kill(-started.child.pid!, 'SIGINT');
    await expectStoppedCleanly(started, info, 'SIGINT');
  }, 60_000);

  it('still stops cleanly when Ctrl-C arrives again while stopping (terminal and tsx both deliver it)', async () => {
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
