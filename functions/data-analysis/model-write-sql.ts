import { ModelError } from '#core/errors';
import type { ModelClient } from '#model/model-client';
import type { WriteSql } from './write-sql';

export interface ModelWriteSqlOptions {
  /** A query is short; the cap keeps a rambling reply from using the skill's time. @default 512 */
  readonly maxTokens?: number;
  /** Per call, including the client's retries. @default 20_000 */
  readonly timeoutMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

/**
 * `WriteSql` on the deployment's model client: a non-streaming call at temperature 0 (the same question should
 * give the same query), within `timeoutMs`. The caller's signal ends the wait at once (`ModelError` `timeout`): the
 * clients' whole-answer `invoke` bounds itself by its deadline only, so the adapter stops waiting rather than
 * relying on them to abort. Rejects with the client's `ModelError` when the model cannot answer.
 */
export function modelWriteSql(client: ModelClient, options: ModelWriteSqlOptions = {}): WriteSql {
  const maxTokens = options.maxTokens ?? 512;
  const timeoutMs = options.timeoutMs ?? 20_000;
  const now = options.now ?? Date.now;
  return async (messages, signal) => {
    if (signal?.aborted) throw cancelled();
    const call = client.invoke(
      { messages, maxTokens, temperature: 0 },
      { deadline: now() + timeoutMs, ...(signal ? { signal } : {}) },
    );
    if (!signal) return (await call).content;
    return new Promise<string>((resolve, reject) => {
      const onAbort = () => reject(cancelled());
      signal.addEventListener('abort', onAbort, { once: true });
      call.then(
        (result) => {
          signal.removeEventListener('abort', onAbort);
          resolve(result.content);
        },
        (error: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(error);
        },
      );
    });
  };
}

const cancelled = (): ModelError => new ModelError('Writing the SQL was stopped: its time ran out', 'timeout');
