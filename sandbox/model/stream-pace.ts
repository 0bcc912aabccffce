import { ConfigError } from '#core/errors';

/**
 * Pacing of the local model server's streamed chunks, so a person (and a screenshot) sees replies grow: the instant
 * engine and a small GGUF on a fast CPU otherwise write a whole answer in a few milliseconds. 33 ms between chunks
 * is about a T4 writing 30 tokens/s. Sandbox only; 0 (the default) writes every chunk as soon as it exists.
 */
export const STREAM_PACE_ENV = 'MODEL_STREAM_PACE_MS';
/** Beyond this a reply of a few hundred tokens would outlast the worker's timeout: surely a typo. */
export const MAX_STREAM_PACE_MS = 5_000;

/** The pace `MODEL_STREAM_PACE_MS` asks for; throws `ConfigError` naming the variable for anything but 0–5000. */
export function streamPaceFromEnv(env: Readonly<Record<string, string | undefined>>): number {
  const raw = env[STREAM_PACE_ENV];
  if (raw === undefined || raw.trim() === '') return 0;
  const ms = Number(raw);
  if (!/^\s*\d+\s*$/.test(raw) || !Number.isSafeInteger(ms) || ms > MAX_STREAM_PACE_MS) {
    throw new ConfigError([
      `${STREAM_PACE_ENV} must be a whole number of milliseconds from 0 to ${MAX_STREAM_PACE_MS}, got "${raw}"`,
    ]);
  }
  return ms;
}

export interface PacedWriter {
  /** Queues one write; `paced` writes keep at least the pace from the previous paced write. Order is kept. */
  push(line: string, paced: boolean): void;
  /** Settles once every queued write was made (or dropped because the signal aborted). */
  drained(): Promise<void>;
}

export interface PacedWriterOptions {
  readonly paceMs: number;
  readonly write: (line: string) => void;
  /** Aborted when the caller hung up: queued writes are dropped and waits end at once. */
  readonly signal: AbortSignal;
  readonly now?: () => number;
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/**
 * Writes lines in order, spacing paced ones by `paceMs`. A slow producer (a real model slower than the pace) is
 * never slowed further: the wait is only what is left of the pace since the previous paced write. With pace 0
 * every write happens synchronously inside `push`, exactly as without pacing.
 */
export function createPacedWriter(options: PacedWriterOptions): PacedWriter {
  const { paceMs, write, signal } = options;
  if (paceMs === 0) {
    return {
      push: (line) => {
        if (!signal.aborted) write(line);
      },
      drained: () => Promise.resolve(),
    };
  }
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? abortableSleep;
  let lastPaced = Number.NEGATIVE_INFINITY;
  let tail = Promise.resolve();
  return {
    push(line, paced) {
      tail = tail.then(async () => {
        if (signal.aborted) return;
        if (paced) {
          const wait = lastPaced + paceMs - now();
          if (wait > 0) await sleep(wait, signal);
          if (signal.aborted) return;
          lastPaced = now();
        }
        write(line);
      });
    },
    drained: () => tail,
  };
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
