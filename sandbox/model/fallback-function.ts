import { spawn } from 'node:child_process';
import { existsSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { build } from 'esbuild';
import { bundleLikeCdk } from '../../bench/bundling';
import { LAMBDA_BUNDLING } from '../../lib/constructs/lambda-bundling';
import { LLAMA_ON_LAMBDA_ARM64 } from '../../lib/shipped-modules';

/**
 * The fallback model function as Lambda runs it, on this machine: its handler bundled with the stack's esbuild
 * options (node-llama-cpp left out and resolved from node_modules, as the function ships it next to the bundle), in
 * a fresh Node process behind the function-URL stand-in (`function-url-host.ts`). For the end-to-end test and the
 * cold-start bench; jest reaches node-llama-cpp only this way.
 */
export interface FallbackFunctionBundle {
  /** The handler bundle (`index.js`), beside a `node_modules` link to this project's. */
  readonly bundle: string;
  readonly bundleBytes: number;
  /** The function-URL stand-in, bundled too (plain `node`, no loader hooks in the timed process). */
  readonly host: string;
}

/** Bundles the handler and the host into `outDir` (created by the caller). */
export async function bundleFallbackFunction(rootDir: string, outDir: string): Promise<FallbackFunctionBundle> {
  const bundle = path.join(outDir, 'index.js');
  const host = path.join(outDir, 'function-url-host.js');
  const { bytes } = await bundleLikeCdk(
    rootDir,
    path.join(rootDir, 'functions/handlers/fallback-model.ts'),
    bundle,
    true,
    LLAMA_ON_LAMBDA_ARM64.packages,
  );
  await build({
    absWorkingDir: rootDir,
    entryPoints: [path.join(rootDir, 'sandbox/model/function-url-host.ts')],
    outfile: host,
    bundle: true,
    platform: 'node',
    target: LAMBDA_BUNDLING.target,
    format: 'cjs',
    logLevel: 'silent',
  });
  // As /var/task/node_modules beside /var/task/index.js; NODE_PATH would not do: `import()` ignores it.
  const modules = path.join(outDir, 'node_modules');
  if (!existsSync(modules)) symlinkSync(path.join(rootDir, 'node_modules'), modules, 'dir');
  return { bundle, bundleBytes: bytes, host };
}

export interface RunningFallbackFunction {
  readonly url: string;
  /** The bundle's module init (its `require`), ms. */
  readonly initMs: number;
  /** Every JSON line the process wrote so far on stdout or stderr (its log lines, the host's events), parsed. */
  readonly lines: readonly Record<string, unknown>[];
  /** The first log line with this `message`, waiting for it up to `timeoutMs`. */
  waitForLog(message: string, timeoutMs: number): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

/**
 * Starts the bundle behind the host with `env` as the function's environment (nothing of this process's leaks in
 * but PATH). Resolves once the host listens; the model loads in the background, as in a Lambda init.
 */
export async function startFallbackFunction(
  built: FallbackFunctionBundle,
  env: Readonly<Record<string, string>>,
  timeoutMs = 20_000,
): Promise<RunningFallbackFunction> {
  const child = spawn(process.execPath, [built.host, built.bundle], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  const waiters: Array<() => void> = [];
  let stderr = '';
  // The logger writes INFO lines to stdout and WARN/ERROR to stderr (as in Lambda, where both reach the log group).
  const collect = (line: string): void => {
    if (!line.startsWith('{')) return; // llama.cpp's own lines, on stderr
    try {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      return;
    }
    for (const wake of waiters.splice(0)) wake();
  };
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4_000);
  });
  createInterface({ input: child.stdout! }).on('line', collect);
  createInterface({ input: child.stderr! }).on('line', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const waitFor = (match: (line: Record<string, unknown>) => boolean, what: string, ms: number) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const check = (): boolean => {
        const found = lines.find(match);
        if (found) resolve(found);
        return found !== undefined;
      };
      if (check()) return;
      const timer = setTimeout(
        () => reject(new Error(`fallback function: no ${what} in ${ms} ms; stderr: ${stderr}`)),
        ms,
      );
      const wait = (): void => {
        if (check()) clearTimeout(timer);
        else waiters.push(wait);
      };
      waiters.push(wait);
      void exited.then(() => {
        clearTimeout(timer);
        if (!check()) reject(new Error(`fallback function exited before ${what}; stderr: ${stderr}`));
      });
    });

  const close = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  try {
    const ready = await waitFor((l) => l.event === 'ready', 'ready line', timeoutMs);
    return {
      url: String(ready.url),
      initMs: Number(ready.initMs),
      lines,
      waitForLog: (message, ms) => waitFor((l) => l.message === message, `log "${message}"`, ms),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
