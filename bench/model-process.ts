import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import * as z from '#shared/zod';

/**
 * The sandbox's local model server as its own process (`sandbox/model/server-main.ts`, llama engine), so the bench
 * can put a timing proxy between it and a sandbox started with MODEL_ENDPOINT_URL.
 */
export interface ModelProcess {
  readonly url: string;
  readonly loadMs: number;
  stop(): Promise<void>;
}

const readyLineSchema = z.object({ event: z.literal('ready'), url: z.string(), loadMs: z.number() });

export function startModelProcess(rootDir: string, modelPath: string, timeoutMs = 60_000): Promise<ModelProcess> {
  const child = spawn(
    process.execPath,
    [path.join(rootDir, 'node_modules/tsx/dist/cli.mjs'), 'sandbox/model/server-main.ts'],
    {
      cwd: rootDir,
      env: { ...process.env, MODEL_ENGINE: 'llama', MODEL_PATH: modelPath, MODEL_STREAM_PACE_MS: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const output: string[] = [];
  child.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
  const stop = () =>
    new Promise<void>((done) => {
      if (child.exitCode !== null || child.signalCode !== null) return done();
      child.once('exit', () => done());
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
    });
  return new Promise<ModelProcess>((resolve, reject) => {
    const fail = (reason: string) => {
      clearTimeout(timer);
      void stop();
      reject(new Error(`model server ${reason}:\n${output.join('')}`));
    };
    const timer = setTimeout(() => fail(`not ready in ${timeoutMs} ms`), timeoutMs);
    child.once('exit', (code) => fail(`exited with ${code}`));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const ready = readyLineSchema.safeParse(safeJson(line));
      if (!ready.success) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      resolve({ url: ready.data.url, loadMs: ready.data.loadMs, stop });
    });
  });
}

function safeJson(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}
