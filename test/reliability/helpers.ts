/** Small HTTP helpers the reliability suites share; every call goes to the sandbox on 127.0.0.1. */

export interface Delivered {
  readonly platform: string;
  readonly chatId: string;
  readonly text: string;
  readonly replyTo?: string;
  readonly at: string;
  /** Whom the platform notifies, read off the wire (a DingTalk AI card's `atUserIds` carries no text mention). */
  readonly mentions?: readonly string[];
  /** How a streamed reply ended (`finished`/`failed`); absent for a one-shot message. */
  readonly stream?: string;
}

export async function getJson<T>(base: string, path: string): Promise<T> {
  const res = await fetch(`${base}${path}`);
  if (res.status !== 200) throw new Error(`GET ${path} answered ${res.status}`);
  return (await res.json()) as T;
}

export async function postEvent(base: string, body: Record<string, unknown>): Promise<number> {
  const res = await fetch(`${base}/_sandbox/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as { webhookStatus?: number };
  if (res.status !== 200) throw new Error(`POST /_sandbox/events answered ${res.status}`);
  return json.webhookStatus ?? 0;
}

/** Runs `tasks` with at most `limit` in flight. */
export async function inPool<T>(tasks: readonly (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, tasks.length) }, async () => {
    while (next < tasks.length) {
      const index = next++;
      results[index] = await (tasks[index] as () => Promise<T>)();
    }
  });
  await Promise.all(lanes);
  return results;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
