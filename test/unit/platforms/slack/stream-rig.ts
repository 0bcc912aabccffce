import { createSlackPlatform } from '#platforms/slack/index';
import type { ChatPlatform, OpenedSurface, ReplyTarget } from '#platforms/types';
import { createSlackEmulator } from '../../../../sandbox/platform-emulator/slack';
import type { EmulatorContext } from '../../../../sandbox/platform-emulator/types';
import { config, emulatorContext, NOW, toRaw } from './helpers';

export const API_BASE = 'https://slack.test';

export type Fault = ReturnType<NonNullable<EmulatorContext['fault']>>;

export interface SeenCall {
  /** Slack method, e.g. `chat.appendStream`. */
  readonly method: string;
  readonly at: number;
  readonly body: Record<string, unknown>;
  readonly status: number;
  readonly error?: string;
}

export interface StreamRigOptions {
  readonly faults?: Fault[];
  /** Throws after the emulator answered the n-th call (0-based) of `method`: a response lost on the way back. */
  readonly loseResponse?: (method: string, index: number) => boolean;
  readonly clockScale?: number;
  /**
   * How many event-loop turns `sleep` waits for the test to move the clock before jumping ahead itself. Tests that
   * drive the clock in small steps for a long answer raise it, so a sleep ends on the test's time, not early.
   * @default 50
   */
  readonly sleepSpins?: number;
}

export function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * The Slack adapter wired in-process to its emulator on one fake clock. `sleep` waits for the test to move the clock
 * (`advance`); when nothing does (the test is awaiting a settle), time jumps ahead by itself.
 */
export function streamRig(options: StreamRigOptions = {}) {
  const clock = { now: NOW };
  const faults = [...(options.faults ?? [])];
  const emulator = createSlackEmulator();
  const ctx = emulatorContext({
    apiBaseUrl: API_BASE,
    now: () => clock.now,
    clockScale: options.clockScale ?? 1,
    fault: () => faults.shift() ?? 'none',
  });
  const calls: SeenCall[] = [];
  const sleeps: number[] = [];
  const perMethod = new Map<string, number>();

  const fetchImpl: typeof fetch = async (input, init) => {
    const url = new URL(String(input));
    const raw = typeof init?.body === 'string' ? init.body : '';
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries((init?.headers ?? {}) as Record<string, string>)) {
      headers[name.toLowerCase()] = value;
    }
    const response = await emulator.handleApi(
      { method: init?.method ?? 'GET', path: url.pathname, query: {}, headers, body: Buffer.from(raw, 'utf8') },
      ctx,
    );
    const method = url.pathname.replace(/^\/api\//, '');
    const answer = JSON.parse(response.body) as { error?: string };
    calls.push({
      method,
      at: clock.now,
      body: (raw ? JSON.parse(raw) : {}) as Record<string, unknown>,
      status: response.statusCode,
      ...(answer.error ? { error: answer.error } : {}),
    });
    const index = perMethod.get(method) ?? 0;
    perMethod.set(method, index + 1);
    if (options.loseResponse?.(method, index)) throw new TypeError('fetch failed: socket hang up');
    return new Response(response.body, { status: response.statusCode, headers: response.headers });
  };

  const platform: ChatPlatform = createSlackPlatform(
    { ...config, apiBaseUrl: API_BASE },
    {
      fetch: fetchImpl,
      now: () => clock.now,
      sleep: async (ms) => {
        sleeps.push(ms);
        const until = clock.now + ms;
        for (let spins = 0; clock.now < until && spins < (options.sleepSpins ?? 50); spins++) await tick();
        clock.now = Math.max(clock.now, until);
      },
    },
  );

  /** A reply target built, as the worker does, from the adapter's own parse of an emulated member message. */
  function target(input: { chatId?: string; direct?: boolean; threadId?: string } = {}): ReplyTarget {
    const event = emulator.buildMessageEvent(
      {
        chatId: input.chatId ?? 'C0GROUP',
        userId: 'U0ALICE',
        text: 'hi',
        ...(input.direct ? { direct: true, mentionBot: false } : {}),
        ...(input.threadId ? { threadId: input.threadId } : {}),
        eventId: 'Ev0STREAM1',
      },
      ctx,
    );
    const parsed = platform.parse(toRaw(event), clock.now);
    if (parsed.kind !== 'message') throw new Error(`expected a message, got ${parsed.kind}`);
    const { message } = parsed;
    return {
      handle: message.replyHandle,
      format: 'markdown',
      ...(message.chatType === 'group' ? { mentionUserId: message.senderId } : {}),
      idempotencyKey: message.eventId,
    };
  }

  /** Opens a streaming reply that records its surface like the worker does. */
  async function open(t: ReplyTarget = target(), resume?: OpenedSurface) {
    const recorded: OpenedSurface[] = [];
    const visibleAt: number[] = [];
    const session = await platform.openReply(t, {
      stream: true,
      ...(resume ? { resume } : {}),
      onOpened: async (surface) => {
        recorded.push(surface);
      },
      onFirstVisible: (at) => visibleAt.push(at),
    });
    return { session, recorded, visibleAt };
  }

  async function advance(ms: number): Promise<void> {
    clock.now += ms;
    for (let i = 0; i < 6; i++) await tick();
  }

  const methods = () => calls.map((c) => c.method);
  const callsTo = (method: string) => calls.filter((c) => c.method === method);
  const api = (method: string, body: object, token = config.botToken) =>
    emulator.handleApi(
      {
        method: 'POST',
        path: `/api/${method}`,
        query: {},
        headers: { authorization: `Bearer ${token}` },
        body: Buffer.from(JSON.stringify(body), 'utf8'),
      },
      ctx,
    );

  return { clock, ctx, faults, emulator, platform, calls, sleeps, target, open, advance, methods, callsTo, api };
}
