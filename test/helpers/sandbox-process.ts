import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { SANDBOX_READY_FILE_ENV, waitForReadyFile } from '../../sandbox/ready-file';

/**
 * Starts `npm start`'s entry (bin/sandbox.ts under tsx) in a child process on a free port — the same code path a
 * person runs — and resolves with its URL once it writes its ready file (`SANDBOX_READY_FILE`, sandbox/ready-file.ts).
 * jest never imports node-llama-cpp (ESM).
 */
export interface SandboxProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** Console lines (stdout by line, stderr by chunk), in arrival order, kept after ready. */
  readonly output: string[];
  stop(): Promise<void>;
}

export async function startSandboxProcess(
  env: Record<string, string> = {},
  timeoutMs = 60_000,
): Promise<SandboxProcess> {
  const root = resolve(__dirname, '../..');
  const readyDir = mkdtempSync(join(tmpdir(), 'groupgate-sandbox-'));
  const readyFile = join(readyDir, 'ready.json');
  // What `npm start` runs: tsx's loader inside the sandbox's own process (no launcher relaying signals).
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/sandbox.ts'], {
    cwd: root,
    env: { ...process.env, PORT: '0', POWERTOOLS_LOG_LEVEL: 'WARN', ...env, [SANDBOX_READY_FILE_ENV]: readyFile },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  void exited.then(() => rmSync(readyDir, { recursive: true, force: true }));
  const output: string[] = [];
  child.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
  createInterface({ input: child.stdout! }).on('line', (line) => output.push(line));
  const { url } = await waitForReadyFile(readyFile, { timeoutMs, exited }).catch((err: unknown) => {
    child.kill('SIGTERM'); // tsx relays it to the sandbox, which stops its parts
    throw new Error(`${(err as Error).message}:\n${output.join('\n')}`);
  });
  const stop = () =>
    new Promise<void>((done) => {
      if (child.exitCode !== null || child.signalCode !== null) return done();
      child.once('exit', () => done());
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
    });
  return { url, child, output, stop };
}
