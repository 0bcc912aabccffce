import type { PlatformName } from '#platforms/types';
import { DINGTALK_CARD_QPS_LIMIT } from '../sandbox/platform-emulator/dingtalk-card';
import { FEISHU_CARD_OPS_PER_SECOND } from '../sandbox/platform-emulator/feishu-cardkit';
import { SLACK_METHOD_LIMITS_PER_MINUTE } from '../sandbox/platform-emulator/slack';
import { cardRig } from '../test/unit/platforms/dingtalk/stream-rig';
import { streamRig as feishuRig } from '../test/unit/platforms/feishu/stream-rig';
import { streamRig as slackRig } from '../test/unit/platforms/slack/stream-rig';
import { settleMicrotasks, startStreamRig } from '../test/unit/platforms/wecom/stream-harness';

/**
 * Platform calls one streamed reply costs: each platform's real streaming session drives its emulator (the unit
 * tests' rigs, one fake clock shared by both) through a 60 s answer that grows every 50 ms (1,200 updates), then
 * settles. The emulators enforce the platforms' limits and answer errors like them, so a reply that overran a limit
 * would show non-2xx calls here.
 */
export interface StreamCallsRow {
  readonly platform: PlatformName;
  /** `session.platformCalls`: every HTTP attempt (or, for WeCom, snapshot write) the reply made. */
  readonly callsPerReply: number;
  /** The calls the limit applies to, e.g. Feishu's card operations or Slack's `chat.appendStream`. */
  readonly limitedCalls: string;
  /** Most limited calls in any 1 s of the fake clock. */
  readonly maxPerSecond: number;
  /** Most limited calls in any `limit.windowMs`, compared with `limit.max`; absent where the platform sets none. */
  readonly maxInLimitWindow?: number;
  readonly limit?: { readonly max: number; readonly windowMs: number };
  readonly limitNote: string;
  /** Emulator answers that were not 2xx (a limit or protocol error hit). */
  readonly errors: number;
  /** Whether the settled text is the full answer. */
  readonly complete: boolean;
}

const ANSWER_MS = 60_000;
const UPDATE_EVERY_MS = 50;

export async function runStreamCallsBench(): Promise<StreamCallsRow[]> {
  return [await feishu(), await slack(), await dingtalk(), await wecom()];
}

/** Most timestamps in any half-open window [t, t + windowMs) starting at one of them. */
export function maxInWindow(times: readonly number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (j < sorted.length && (sorted[j] ?? 0) < (sorted[i] ?? 0) + windowMs) j++;
    best = Math.max(best, j - i);
  }
  return best;
}

async function feishu(): Promise<StreamCallsRow> {
  const rig = feishuRig();
  const { session } = await rig.open(rig.target());
  let text = '';
  for (let at = 0; at < ANSWER_MS; at += UPDATE_EVERY_MS) {
    text += '字';
    await session.update(text);
    await rig.advance(UPDATE_EVERY_MS);
  }
  await session.finish(`${text}。`);
  const ops = rig.cardOps();
  const times = ops.map((r) => r.at);
  return {
    platform: 'feishu',
    callsPerReply: session.platformCalls,
    limitedCalls: 'CardKit card operations',
    maxPerSecond: maxInWindow(times, 1000),
    maxInLimitWindow: maxInWindow(times, 1000),
    limit: { max: FEISHU_CARD_OPS_PER_SECOND, windowMs: 1000 },
    limitNote: `${FEISHU_CARD_OPS_PER_SECOND}/s per card`,
    errors: rig.requests.filter((r) => r.status !== 200).length,
    complete:
      rig.ctx.deliveries[0]?.text.endsWith(`${text}。`) === true && rig.ctx.deliveries[0]?.stream === 'finished',
  };
}

async function slack(): Promise<StreamCallsRow> {
  // The rig's sleep waits this many event-loop turns for the driver to move the clock before it jumps ahead itself.
  const rig = slackRig({ sleepSpins: 100_000 });
  const { session } = await rig.open();
  let text = '';
  for (let ms = 0; ms < ANSWER_MS; ms += UPDATE_EVERY_MS) {
    text += ms % 250 === 200 ? ' ' : 'a';
    await session.update(text);
    await rig.advance(UPDATE_EVERY_MS);
  }
  await session.finish(`${text}end`);
  const appends = rig.callsTo('chat.appendStream').map((c) => c.at);
  const perMinute = SLACK_METHOD_LIMITS_PER_MINUTE['chat.appendStream'] ?? 100;
  return {
    platform: 'slack',
    callsPerReply: session.platformCalls,
    limitedCalls: 'chat.appendStream',
    maxPerSecond: maxInWindow(appends, 1000),
    maxInLimitWindow: maxInWindow(appends, 60_000),
    limit: { max: perMinute, windowMs: 60_000 },
    limitNote: `Tier 4 ≈ ${perMinute}/min per workspace`,
    errors: rig.calls.filter((c) => c.status !== 200 || c.error !== undefined).length,
    complete: rig.ctx.deliveries[0]?.text.endsWith(`${text}end`) === true,
  };
}

async function dingtalk(): Promise<StreamCallsRow> {
  const rig = cardRig();
  const { session } = await rig.open();
  let text = '';
  for (let at = 0; at < ANSWER_MS; at += UPDATE_EVERY_MS) {
    text += '字';
    await session.update(text);
    await rig.advance(UPDATE_EVERY_MS);
  }
  await session.finish(`${text}。`);
  const times = rig.cardCalls().map((r) => r.at);
  return {
    platform: 'dingtalk',
    callsPerReply: session.platformCalls,
    limitedCalls: 'card API calls',
    maxPerSecond: maxInWindow(times, 1000),
    maxInLimitWindow: maxInWindow(times, 1000),
    limit: { max: DINGTALK_CARD_QPS_LIMIT, windowMs: 1000 },
    limitNote: `~${DINGTALK_CARD_QPS_LIMIT}/s per app [U]`,
    errors: rig.requests.filter((r) => r.status !== 200).length,
    complete: rig.ctx.deliveries[0]?.text === `${text}。` && rig.ctx.deliveries[0]?.stream === 'finished',
  };
}

/**
 * WeCom makes no call per update: the session writes snapshots (DynamoDB) that WeCom's refresh callbacks, about one a
 * second, are answered from. Its figure is the snapshot writes; WeCom's own polling sets what a member sees.
 */
async function wecom(): Promise<StreamCallsRow> {
  const rig = await startStreamRig({ drivenClock: true });
  try {
    const session = await rig.platform.openReply(
      { handle: rig.message.replyHandle, format: 'markdown', idempotencyKey: rig.message.eventId },
      { stream: true },
    );
    const start = rig.clock.now;
    let text = '';
    for (let at = 0; at < ANSWER_MS; at += UPDATE_EVERY_MS) {
      rig.clock.now = start + at;
      text += 'x';
      await session.update(text);
      await settleMicrotasks(2);
    }
    // The session may be waiting out its write interval: time keeps passing while the reply settles.
    let settled = false;
    const finished = session.finish(`${text}.`).finally(() => {
      settled = true;
    });
    while (!settled) {
      rig.clock.now += UPDATE_EVERY_MS;
      await settleMicrotasks(2);
    }
    await finished;
    const times = rig.store.writes.map((w) => w.snapshot.updatedAt);
    const last = [...rig.store.rows.values()].at(-1);
    return {
      platform: 'wecom',
      callsPerReply: session.platformCalls,
      limitedCalls: 'snapshot writes',
      maxPerSecond: maxInWindow(times, 1000),
      limitNote: 'no per-call limit: WeCom polls ~1/s and each poll reads the latest snapshot',
      errors: rig.store.writes.filter((w) => !w.stored).length,
      complete: last?.content.endsWith(`${text}.`) === true && last.finish,
    };
  } finally {
    await rig.server.close();
  }
}
