import { existsSync, statSync } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '#core/errors';
import * as z from '#shared/zod';

/**
 * How programs (tests, the bench, scripts) learn that `npm start` is up, without parsing the console, which is for
 * people: with `SANDBOX_READY_FILE=<path>` set, the sandbox writes one JSON document there once every part is up, and
 * removes it when it stops. The write is atomic (a temporary file renamed into place), so a reader that sees the file
 * sees all of it.
 */
export const SANDBOX_READY_FILE_ENV = 'SANDBOX_READY_FILE';

/** What the ready file holds: the sandbox's URL and the processes and servers that must be gone after Ctrl-C. */
export const sandboxReadySchema = z.object({
  url: z.url(),
  pid: z.int().check(z.positive()),
  fauxqsPid: z.int().check(z.positive()),
  endpoints: z.object({
    dynamo: z.url(),
    sqs: z.url(),
    model: z.url(),
    /** The backup model's engine, unless `FALLBACK_MODEL=off`. */
    fallbackModel: z.optional(z.url()),
  }),
});
export type SandboxReady = z.infer<typeof sandboxReadySchema>;

/**
 * The absolute path `SANDBOX_READY_FILE` names, or undefined when unset or empty. Throws `ConfigError` naming the
 * variable when its folder does not exist, so a typo fails at start rather than after every part is up.
 */
export function readyFileFromEnv(env: Readonly<Record<string, string | undefined>>): string | undefined {
  const raw = env[SANDBOX_READY_FILE_ENV];
  if (raw === undefined || raw.trim() === '') return undefined;
  const path = resolve(raw);
  const folder = dirname(path);
  if (!existsSync(folder) || !statSync(folder).isDirectory()) {
    throw new ConfigError([`${SANDBOX_READY_FILE_ENV}: folder ${folder} does not exist (got "${raw}")`]);
  }
  return path;
}

export async function writeReadyFile(path: string, ready: SandboxReady): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(sandboxReadySchema.parse(ready))}\n`);
  await rename(tmp, path);
}

export function removeReadyFile(path: string): Promise<void> {
  return rm(path, { force: true });
}

export interface ReadyWaitOptions {
  readonly timeoutMs: number;
  /** Settles when the sandbox process exits: waiting ends at once, with its exit code in the error. */
  readonly exited: Promise<number | null>;
  /** @default 20 */
  readonly pollMs?: number;
}

/**
 * Resolves with the ready file's contents once it appears; rejects when the sandbox exits first, when `timeoutMs`
 * passes, or when the file does not hold a ready document.
 */
export function waitForReadyFile(path: string, options: ReadyWaitOptions): Promise<SandboxReady> {
  const pollMs = options.pollMs ?? 20;
  return new Promise<SandboxReady>((resolveReady, reject) => {
    let settled = false;
    const finish = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearInterval(poll);
      clearTimeout(timer);
      outcome();
    };
    const check = () => {
      if (!existsSync(path)) return;
      readFile(path, 'utf8')
        .then((text) => sandboxReadySchema.parse(JSON.parse(text)))
        .then(
          (ready) => finish(() => resolveReady(ready)),
          (err: unknown) => finish(() => reject(new Error(`${path} is not a ready file: ${(err as Error).message}`))),
        );
    };
    const poll = setInterval(check, pollMs);
    const timer = setTimeout(
      () => finish(() => reject(new Error(`sandbox not ready in ${options.timeoutMs} ms`))),
      options.timeoutMs,
    );
    void options.exited.then((code) => finish(() => reject(new Error(`sandbox exited with ${code} before ready`))));
    check();
  });
}
