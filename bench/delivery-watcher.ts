import * as z from '#shared/zod';

/**
 * Follows a running sandbox's live delivery feed (`GET /_sandbox/stream`, server-sent events) and notes, per chat,
 * when a reply's text first reached this process and when its stream ended. Times are `performance.now()` of this
 * process, so they compare directly with the moment a webhook POST here was acknowledged.
 */
const deliveryViewSchema = z.object({
  platform: z.string(),
  chatId: z.string(),
  messageId: z.string(),
  text: z.string(),
  stream: z.optional(z.enum(['streaming', 'finished', 'failed'])),
});

export interface SeenReply {
  readonly at: number;
  readonly text: string;
  /** The delivery was a streamed reply when its text first showed (not a one-shot message, e.g. a cached answer). */
  readonly streamed: boolean;
}

interface ChatState {
  first?: SeenReply;
  ended?: SeenReply & { readonly stream: 'finished' | 'failed' | 'one-shot' };
  readonly waiters: Set<() => void>;
}

export class DeliveryWatcher {
  private readonly chats = new Map<string, ChatState>();
  private constructor(private readonly abort: AbortController) {}

  /** Resolves once the feed is connected: a delivery after that is never missed. */
  static async open(baseUrl: string): Promise<DeliveryWatcher> {
    const abort = new AbortController();
    const watcher = new DeliveryWatcher(abort);
    const res = await fetch(`${baseUrl}/_sandbox/stream`, { signal: abort.signal });
    if (!res.ok || !res.body) throw new Error(`GET /_sandbox/stream answered ${res.status}`);
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    let connected: () => void = () => undefined;
    const ready = new Promise<void>((resolve) => {
      connected = resolve;
    });
    const pump = async (): Promise<void> => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (block.includes(': connected')) connected();
          watcher.onEvent(block, performance.now());
          end = buffer.indexOf('\n\n');
        }
      }
    };
    pump().catch(() => undefined);
    await ready;
    return watcher;
  }

  /** The reply's first visible text in `platform`/`chatId`, or undefined after `timeoutMs`. */
  firstVisible(platform: string, chatId: string, timeoutMs: number): Promise<SeenReply | undefined> {
    return this.waitFor(platform, chatId, timeoutMs, (s) => s.first);
  }

  /** When the reply stopped changing: its stream finished or failed (a one-shot message ends when it appears). */
  ended(platform: string, chatId: string, timeoutMs: number): Promise<ChatState['ended']> {
    return this.waitFor(platform, chatId, timeoutMs, (s) => s.ended);
  }

  close(): void {
    this.abort.abort();
    for (const state of this.chats.values()) for (const wake of state.waiters) wake();
  }

  private onEvent(block: string, at: number): void {
    const lines = block.split('\n');
    if (!lines.includes('event: delivery')) return;
    const data = lines.find((l) => l.startsWith('data: '));
    const parsed = deliveryViewSchema.safeParse(safeJson(data?.slice('data: '.length) ?? ''));
    if (!parsed.success) return;
    const d = parsed.data;
    const state = this.state(d.platform, d.chatId);
    if (!state.first && d.text !== '') state.first = { at, text: d.text, streamed: d.stream !== undefined };
    if (!state.ended && d.stream !== 'streaming')
      state.ended = { at, text: d.text, streamed: d.stream !== undefined, stream: d.stream ?? 'one-shot' };
    for (const wake of state.waiters) wake();
  }

  private state(platform: string, chatId: string): ChatState {
    const key = `${platform}\u0000${chatId}`;
    let state = this.chats.get(key);
    if (!state) {
      state = { waiters: new Set() };
      this.chats.set(key, state);
    }
    return state;
  }

  private waitFor<T>(
    platform: string,
    chatId: string,
    timeoutMs: number,
    pick: (s: ChatState) => T | undefined,
  ): Promise<T | undefined> {
    const state = this.state(platform, chatId);
    const now = pick(state);
    if (now !== undefined || this.abort.signal.aborted) return Promise.resolve(now);
    return new Promise((resolve) => {
      const done = (): void => {
        const value = pick(state);
        if (value === undefined && !this.abort.signal.aborted && !timedOut) return;
        clearTimeout(timer);
        state.waiters.delete(done);
        resolve(value);
      };
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        done();
      }, timeoutMs);
      state.waiters.add(done);
    });
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
