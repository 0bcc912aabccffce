import { createFeishuPlatform, type FeishuConfig } from '#platforms/feishu/index';
import type { ChatPlatform, OpenedSurface, ReplyTarget } from '#platforms/types';
import { createFeishuEmulator } from '../../../../sandbox/platform-emulator/feishu';
import type { EmulatorContext } from '../../../../sandbox/platform-emulator/types';
import { config, emulatorContext, NOW, toRaw } from './helpers';

export const API_BASE = 'https://open.feishu.test';

export type Fault = ReturnType<NonNullable<EmulatorContext['fault']>>;

export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  /** Clock when the request was sent. */
  readonly at: number;
  readonly body: Record<string, unknown>;
  readonly status: number;
  readonly response: { code?: number; data?: Record<string, unknown> };
}

export interface RigOptions {
  readonly faults?: Fault[];
  readonly clockScale?: number;
  readonly config?: Partial<FeishuConfig>;
}

/**
 * The Feishu adapter wired in-process to its emulator, on one fake clock shared by both. `sleep` waits for the test
 * to move the clock (`advance`); when nothing does (the test is awaiting a settle), time jumps ahead by itself.
 */
export function streamRig(options: RigOptions = {}) {
  const clock = { now: NOW };
  const emulator = createFeishuEmulator();
  // Asked once per emulated OpenAPI call; tests queue more while a session runs.
  const faults: Fault[] = [...(options.faults ?? [])];
  const ctx = emulatorContext({
    now: () => clock.now,
    clockScale: options.clockScale ?? 1,
    fault: () => faults.shift() ?? 'none',
  });
  const requests: SeenRequest[] = [];

  const fetchImpl: typeof fetch = async (input, init) => {
    const at = clock.now;
    const url = new URL(String(input));
    const raw = typeof init?.body === 'string' ? init.body : '';
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries((init?.headers ?? {}) as Record<string, string>)) {
      headers[name.toLowerCase()] = value;
    }
    const response = await emulator.handleApi(
      {
        method: init?.method ?? 'GET',
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers,
        body: Buffer.from(raw, 'utf8'),
      },
      ctx,
    );
    requests.push({
      method: init?.method ?? 'GET',
      path: url.pathname,
      at,
      body: (raw ? JSON.parse(raw) : {}) as Record<string, unknown>,
      status: response.statusCode,
      response: JSON.parse(response.body) as SeenRequest['response'],
    });
    return new Response(response.body, { status: response.statusCode, headers: response.headers });
  };

  const sleeps: number[] = [];
  const platform: ChatPlatform = createFeishuPlatform(
    { ...config, apiBaseUrl: API_BASE, ...options.config },
    {
      fetch: fetchImpl,
      now: () => clock.now,
      sleep: async (ms) => {
        sleeps.push(ms);
        const until = clock.now + ms;
        for (let spins = 0; clock.now < until && spins < 1000; spins++) await tick();
        clock.now = Math.max(clock.now, until);
      },
    },
  );

  /** A reply target built, as the worker does, from the adapter's own parse of an emulated member message. */
  function target(input: { chatId?: string; userId?: string; eventId?: string; threadId?: string } = {}): ReplyTarget {
    const event = emulator.buildMessageEvent(
      {
        chatId: input.chatId ?? 'oc_group',
        userId: input.userId ?? 'ou_asker',
        text: 'hi',
        eventId: input.eventId ?? 'evt-feishu-1',
        ...(input.threadId ? { threadId: input.threadId } : {}),
      },
      ctx,
    );
    const parsed = platform.parse(toRaw(event), clock.now);
    if (parsed.kind !== 'message') throw new Error(`expected a message, got ${parsed.kind}`);
    const { message } = parsed;
    return {
      handle: message.replyHandle,
      format: 'markdown',
      mentionUserId: message.senderId,
      idempotencyKey: message.eventId,
    };
  }

  /** Opens a streaming reply that records its surface like the worker does (and notes what was sent by then). */
  async function open(t: ReplyTarget, extra: { resume?: OpenedSurface; refuseRecord?: boolean } = {}) {
    const recorded: { surface: OpenedSurface; requestsBefore: string[] }[] = [];
    const visibleAt: number[] = [];
    const session = await platform.openReply(t, {
      stream: true,
      ...(extra.resume ? { resume: extra.resume } : {}),
      onOpened: async (surface) => {
        recorded.push({ surface, requestsBefore: requests.map((r) => `${r.method} ${r.path}`) });
        if (extra.refuseRecord) throw new Error('event store unavailable');
      },
      onFirstVisible: (at) => visibleAt.push(at),
    });
    return { session, recorded, visibleAt };
  }

  /** Lets pending work run at the current time, then moves the clock and lets what became due run. */
  async function advance(ms: number): Promise<void> {
    for (let i = 0; i < 6; i++) await tick();
    clock.now += ms;
    for (let i = 0; i < 6; i++) await tick();
  }

  const cardOps = () => requests.filter((r) => /^\/open-apis\/cardkit\/v1\/cards\/[^/]+/.test(r.path));
  const contentPuts = () => requests.filter((r) => r.path.endsWith('/elements/stream_md/content'));
  const messageSends = () => requests.filter((r) => r.path.startsWith('/open-apis/im/v1/messages'));

  return {
    clock,
    ctx,
    emulator,
    platform,
    requests,
    sleeps,
    faults,
    target,
    open,
    advance,
    cardOps,
    contentPuts,
    messageSends,
  };
}

export function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The markdown content and config of a full update's card JSON. */
export function cardOf(body: Record<string, unknown>): {
  config: { streaming_mode?: boolean; summary?: { content: string } };
  body: { elements: { element_id?: string; content?: string }[] };
} {
  const card = body.card as { data: string } | undefined;
  const data = card?.data ?? (body.data as string);
  return JSON.parse(data) as ReturnType<typeof cardOf>;
}
