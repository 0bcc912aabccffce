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
