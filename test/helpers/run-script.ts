import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');

export interface ScriptResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `npx tsx sandbox/mint-token.ts <args>` as a person would, with `env` over this process's environment. */
export function mintToken(
  args: readonly string[],
  env: Record<string, string | undefined> = {},
): Promise<ScriptResult> {
  return runScript('sandbox/mint-token.ts', args, env);
}

/** Runs a repository script under tsx (what `npx tsx <script>` and the npm scripts run), with `env` over ours. */
export function runScript(
  script: string,
  args: readonly string[],
  env: Record<string, string | undefined> = {},
): Promise<ScriptResult> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [resolve(ROOT, 'node_modules/tsx/dist/cli.mjs'), script, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.once('error', fail);
    child.once('exit', (code) => done({ code, stdout, stderr }));
  });
}
