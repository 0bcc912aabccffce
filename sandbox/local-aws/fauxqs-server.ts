import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import type { LocalServer } from './local-server';

export interface FauxqsOptions {
  /** @default 0 (any free port) */
  readonly port?: number;
  /** Region fauxqs puts in queue ARNs when a request does not name one. @default 'us-east-1' */
  readonly region?: string;
  /** @default 10000 */
  readonly startTimeoutMs?: number;
}

export interface FauxqsServer extends LocalServer {
  /** Pid of the child process, so callers (and tests) can check it is gone after `stop()`. */
  readonly pid: number;
}

const LAUNCHER = path.join(__dirname, 'fauxqs-launcher.mjs');
const STOP_GRACE_MS = 3000;

type LauncherMessage = { type: 'listening'; port: number } | { type: 'failed'; message: string };

/**
 * Starts fauxqs (SQS wire protocol) in a child process, because fauxqs is ESM-only and jest runs CommonJS.
 * The child binds 127.0.0.1 and exits by itself when this process ends, however it ends: it watches the IPC
 * channel, which the OS closes when the parent dies. This process also kills it on a normal exit.
 */
export async function startFauxqs(options: FauxqsOptions = {}): Promise<FauxqsServer> {
  const child = spawn(process.execPath, [LAUNCHER], {
    // A clean environment: no NODE_OPTIONS loaders from jest or tsx, no AWS settings.
    env: {
      FAUXQS_LAUNCH_PORT: String(options.port ?? 0),
      FAUXQS_LAUNCH_REGION: options.region ?? 'us-east-1',
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  try {
    const port = await waitForListening(child, options.startTimeoutMs ?? 10_000);
    const pid = child.pid;
    if (pid === undefined) throw new Error('fauxqs started but its pid is unknown');
    const endpoint = `http://127.0.0.1:${port}`;
    await assertHealthy(endpoint);
    // Neither the child nor its channel should keep this process alive; the child follows us out.
    child.unref();
    child.channel?.unref();
    let stopped: Promise<void> | undefined;
    return {
      endpoint,
      pid,
      stop() {
        stopped ??= terminate(child).finally(() => process.off('exit', killOnExit));
        return stopped;
      },
    };
  } catch (error) {
    await terminate(child);
    process.off('exit', killOnExit);
    throw error;
  }
}

function waitForListening(child: ChildProcess, timeoutMs: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`fauxqs did not start within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (message: LauncherMessage): void => {
      if (message.type === 'listening') done(() => resolve(message.port));
      else fail(new Error(`fauxqs failed to start: ${message.message}`));
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void =>
      fail(new Error(`fauxqs exited during start-up (code ${code}, signal ${signal})`));
    const onError = (error: Error): void => fail(new Error('fauxqs could not be spawned', { cause: error }));
    function done(settle: () => void): void {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      child.off('error', onError);
      settle();
    }
    function fail(error: Error): void {
      done(() => reject(error));
    }
    child.on('message', onMessage);
    child.once('exit', onExit);
    child.once('error', onError);
  });
}

async function assertHealthy(endpoint: string): Promise<void> {
  const response = await fetch(`${endpoint}/health`);
  if (!response.ok) throw new Error(`fauxqs health check answered HTTP ${response.status}`);
}

/** SIGTERM, then SIGKILL after a grace period; resolves once the process has exited and been reaped. */
function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const forceKill = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    child.once('exit', () => {
      clearTimeout(forceKill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
