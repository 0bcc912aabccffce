import { createDingTalkPlatform, type DingTalkConfig } from '#platforms/dingtalk/index';
import type { ChatPlatform, OpenedSurface, ReplyTarget } from '#platforms/types';
import {
  createDingTalkEmulator,
  DINGTALK_EMULATED_CARD_TEMPLATE,
} from '../../../../sandbox/platform-emulator/dingtalk';
import { CREDENTIALS, emulatorContext, type Fault, NOW, toRaw } from './helpers';

export const API_BASE = 'https://api.dingtalk.test';

export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  /** Clock when the request was sent. */
  readonly at: number;
  readonly body: Record<string, unknown>;
  readonly status: number;
  readonly responseBody: string;
}

export interface CardRigOptions {
  readonly faults?: Fault[];
  /** Rewrites a request body before the emulator sees it (to model a client that leaves a field out). */
  readonly rewrite?: (path: string, body: Record<string, unknown>) => Record<string, unknown>;
  /** Answers instead of the emulator: return a thrown error to model a lost response after the emulator acted. */
  readonly loseResponse?: (path: string, index: number) => boolean;
  readonly config?: Partial<DingTalkConfig>;
}

/**
 * The DingTalk adapter wired in-process to its emulator, on one fake clock shared by both. `sleep` waits for the test
 * to move the clock (`advance`); when nothing does (the test is awaiting a settle), time jumps ahead by itself.
 */
export function cardRig(options: CardRigOptions = {}) {
  const clock = { now: NOW };
  const emulator = createDingTalkEmulator();
  // Faults are asked once per emulated send/card call; tests queue more while a session runs.
  const faults: Fault[] = [...(options.faults ?? [])];
  const ctx = { ...emulatorContext(API_BASE, { now: () => clock.now }), fault: () => faults.shift() ?? 'none' };
  const requests: SeenRequest[] = [];
  const sleeps: number[] = [];
  const counts = new Map<string, number>();

  const fetchImpl: typeof fetch = async (input, init) => {
    const at = clock.now;
    const url = new URL(String(input));
    const raw = typeof init?.body === 'string' ? init.body : '';
    let body = (raw ? JSON.parse(raw) : {}) as Record<string, unknown>;
    body = options.rewrite?.(url.pathname, body) ?? body;
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
        body: Buffer.from(JSON.stringify(body), 'utf8'),
      },
      ctx,
    );
    requests.push({
      method: init?.method ?? 'GET',
      path: url.pathname,
      at,
      body,
      status: response.statusCode,
      responseBody: response.body,
    });
    const index = counts.get(url.pathname) ?? 0;
    counts.set(url.pathname, index + 1);
    if (options.loseResponse?.(url.pathname, index)) throw new TypeError('fetch failed: socket hang up');
    return new Response(response.body, { status: response.statusCode, headers: response.headers });
  };

  const platform: ChatPlatform = createDingTalkPlatform(
    {
      appKey: CREDENTIALS.dingtalk.appKey,
      appSecret: CREDENTIALS.dingtalk.appSecret,
      apiBaseUrl: API_BASE,
      replyUrls: { origins: [API_BASE] },
      cardTemplateId: DINGTALK_EMULATED_CARD_TEMPLATE.id,
      ...options.config,
    },
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
  function target(input: { chatId?: string; userId?: string; direct?: boolean; eventId?: string } = {}): ReplyTarget {
    const event = emulator.buildMessageEvent(
      {
        chatId: input.chatId ?? 'cid-sales',
        userId: input.userId ?? 'zhangsan',
        text: 'hi',
        direct: input.direct,
        eventId: input.eventId ?? 'msg-evt-1',
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

  /** Lets pending work run at the current time, then moves the clock and lets what became due run. */
  async function advance(ms: number): Promise<void> {
    for (let i = 0; i < 6; i++) await tick();
    clock.now += ms;
    for (let i = 0; i < 6; i++) await tick();
  }

  const cardCalls = () => requests.filter((r) => r.path.startsWith('/v1.0/card/'));
  const api = (method: string, path: string, body: object, token?: string) =>
    emulator.handleApi(
      {
        method,
        path,
        query: {},
        headers: { 'x-acs-dingtalk-access-token': token ?? '' },
        body: Buffer.from(JSON.stringify(body), 'utf8'),
      },
      ctx,
    );

  const queueFault = (fault: Fault) => faults.push(fault);

  return { clock, ctx, emulator, platform, requests, sleeps, target, open, advance, cardCalls, api, queueFault };
}

export function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
