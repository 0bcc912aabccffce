import {
  createSweeperRuntime,
  SWEEP_STOP_MARGIN_MS,
  type SweeperRuntimeDeps,
  type SweeperStore,
  type SweepLogger,
} from '#composition/sweeper-runtime';
import { DEFAULT_MESSAGES } from '#core/pipeline-messages';
import { openStreamingSession, type SurfaceOps } from '#platforms/shared/streaming-session';
import type { ChatPlatform, OpenedSurface, PlatformName, ReplyTarget } from '#platforms/types';
import type { OpenSurfaceEntry } from '#stores/open-surface';
import { fakePlatform } from '../../helpers/factories';

/**
 * The sweep over open surfaces with an in-memory store and a streaming fake platform whose surface operations are
 * logged: each due surface is claimed, resumed (never opened anew) and failed with the note, then marked; a failing
 * surface is logged and the others still get swept.
 */
const NOW = 1_800_000_000_000;
const NOTE = DEFAULT_MESSAGES.replyAbandoned;

const target = (platform: 'slack' | 'dingtalk', eventId: string): ReplyTarget => ({
  handle:
    platform === 'slack'
      ? { platform, channel: 'C1', threadTs: '1.1' }
      : { platform, conversationId: 'cid', conversationType: 'group' },
  format: 'markdown',
  idempotencyKey: eventId,
});

const open = (pk: string, platform: 'slack' | 'dingtalk' = 'slack'): OpenSurfaceEntry => ({
  kind: 'open',
  pk,
  surface: { id: `surface-${pk}`, openedAt: NOW - 1_800_000 },
  target: target(platform, pk),
  attempts: 1,
});

/** The events table as the sweeper sees it: due entries, claims (refused for `refuse`), marks. */
function memoryStore(entries: OpenSurfaceEntry[], options: { refuse?: string[]; loseLease?: string[] } = {}) {
  const claims: { pk: string; now: number; leaseMs: number }[] = [];
  const marks: { pk: string; attempts: number; messageIds: readonly string[] }[] = [];
  const lists: { now: number; limit: number }[] = [];
  const store: SweeperStore = {
    listOpenSurfaces: async (now, limit) => {
      lists.push({ now, limit });
      return entries.slice(0, limit);
    },
    claimForSweep: async (pk, now, leaseMs) => {
      claims.push({ pk, now, leaseMs });
      return options.refuse?.includes(pk) ? undefined : 7;
    },
    markSwept: async (pk, _now, attempts, messageIds) => {
      marks.push({ pk, attempts, messageIds });
      return !options.loseLease?.includes(pk);
    },
  };
  return { store, claims, marks, lists };
}

/** A streaming platform over logged surface ops; `failOn` makes the ops throw for these surface ids. */
function streamingPlatform(name: PlatformName, log: string[], failOn: readonly string[] = []): ChatPlatform {
  const opsFor = (): SurfaceOps => {
    const guard = (surface: OpenedSurface) => {
      if (failOn.includes(surface.id)) throw new Error(`platform refused ${surface.id}`);
    };
    return {
      minIntervalMs: 0,
      calls: () => 0,
      open: async (text) => {
        log.push(`open:${text}`);
        return { id: 'new-surface', openedAt: NOW };
      },
      resume: async (surface, text) => {
        guard(surface);
        log.push(`resume:${surface.id}:${text}`);
      },
      push: async (surface, text) => {
        log.push(`push:${surface.id}:${text}`);
      },
      finish: async (surface, text) => {
        log.push(`finish:${surface.id}:${text}`);
        return { messageIds: [surface.id] };
      },
      fail: async (surface, text) => {
        guard(surface);
        log.push(`fail:${surface.id}:${text}`);
        return { messageIds: [surface.id] };
      },
      sendWhole: async (text) => {
        log.push(`sendWhole:${text}`);
        return { messageIds: ['plain'] };
      },
    };
  };
  return {
    ...fakePlatform(name),
    streaming: true,
    openReply: async (_target, options = {}) =>
      openStreamingSession(opsFor(), options, { now: () => NOW, sleep: async () => undefined }),
  };
}

function recordingLogger() {
  const lines: { level: keyof SweepLogger; message: string; extra: Readonly<Record<string, unknown>> }[] = [];
  const log: SweepLogger = {
    info: (message, extra) => lines.push({ level: 'info', message, extra }),
    warn: (message, extra) => lines.push({ level: 'warn', message, extra }),
    error: (message, extra) => lines.push({ level: 'error', message, extra }),
  };
  return { log, lines };
}

function runtime(
  store: SweeperStore,
  platforms: Partial<Record<PlatformName, ChatPlatform>>,
  extra: Partial<SweeperRuntimeDeps> = {},
) {
  const { log, lines } = recordingLogger();
  const swept: PlatformName[] = [];
  const sweep = createSweeperRuntime({
    store,
    platformFor: async (name) => platforms[name],
    note: NOTE,
    leaseMs: 55_000,
    log,
    onSwept: (p) => swept.push(p),
    now: () => NOW,
    ...extra,
  });
  return { sweep, lines, swept };
}

describe('sweep', () => {
  it('claims each due surface, fails it on the recorded surface with the note, and marks it swept', async () => {
    const { store, claims, marks, lists } = memoryStore([open('slack#e1')]);
    const surfaceLog: string[] = [];
    const { sweep, swept } = runtime(store, { slack: streamingPlatform('slack', surfaceLog) }, { batchSize: 10 });

    const report = await sweep();

    expect(lists).toEqual([{ now: NOW, limit: 10 }]);
    expect(claims).toEqual([{ pk: 'slack#e1', now: NOW, leaseMs: 55_000 }]);
    // Resumed and overwritten with the note: no new surface, no plain message.
    expect(surfaceLog).toEqual([`resume:surface-slack#e1:${NOTE}`, `fail:surface-slack#e1:${NOTE}`]);
    expect(marks).toEqual([{ pk: 'slack#e1', attempts: 7, messageIds: ['surface-slack#e1'] }]);
    expect(swept).toEqual(['slack']);
    expect(report).toEqual({ due: 1, swept: 1, unreadable: 0, skipped: 0, failed: 0, deferred: 0 });
  });

  it('goes on past a platform error: the failed surface is logged and left for a later run', async () => {
    const { store, marks } = memoryStore([open('slack#bad'), open('dingtalk#ok', 'dingtalk'), open('slack#ok')]);
    const surfaceLog: string[] = [];
    const { sweep, lines, swept } = runtime(store, {
      slack: streamingPlatform('slack', surfaceLog, ['surface-slack#bad']),
      dingtalk: streamingPlatform('dingtalk', surfaceLog),
    });

    const report = await sweep();

    expect(report).toEqual({ due: 3, swept: 2, unreadable: 0, skipped: 0, failed: 1, deferred: 0 });
    expect(marks.map((m) => m.pk)).toEqual(['dingtalk#ok', 'slack#ok']);
    expect(swept).toEqual(['dingtalk', 'slack']);
    expect(surfaceLog.filter((l) => l.startsWith('open:') || l.startsWith('sendWhole:'))).toEqual([]);
    const errors = lines.filter((l) => l.level === 'error');
    expect(errors).toEqual([
      expect.objectContaining({
        extra: expect.objectContaining({
          pk: 'slack#bad',
          error: expect.objectContaining({ message: 'platform refused surface-slack#bad' }),
        }),
      }),
    ]);
  });

  it('leaves a surface whose claim is refused (a worker holds it, or it settled) untouched', async () => {
    const { store, marks } = memoryStore([open('slack#held'), open('slack#free')], { refuse: ['slack#held'] });
    const surfaceLog: string[] = [];
    const { sweep } = runtime(store, { slack: streamingPlatform('slack', surfaceLog) });

    const report = await sweep();

    expect(report).toMatchObject({ due: 2, swept: 1, skipped: 1, failed: 0 });
    expect(surfaceLog.some((l) => l.includes('slack#held'))).toBe(false);
    expect(marks.map((m) => m.pk)).toEqual(['slack#free']);
  });

  it('settles an unreadable item without any platform call, so it leaves the index', async () => {
    const unreadable: OpenSurfaceEntry = {
      kind: 'unreadable',
      pk: 'slack#junk',
      attempts: 2,
      reason: 'no replyTarget',
    };
    const { store, marks } = memoryStore([unreadable]);
    const surfaceLog: string[] = [];
    const { sweep, lines, swept } = runtime(store, { slack: streamingPlatform('slack', surfaceLog) });

    const report = await sweep();

    expect(report).toMatchObject({ due: 1, unreadable: 1, swept: 0 });
    expect(marks).toEqual([{ pk: 'slack#junk', attempts: 7, messageIds: [] }]);
    expect(surfaceLog).toEqual([]);
    expect(swept).toEqual([]);
    expect(lines).toContainEqual(
      expect.objectContaining({ level: 'error', extra: { pk: 'slack#junk', reason: 'no replyTarget' } }),
    );
  });

  it('never posts a new message: a platform that does not stream here, or is not enabled, fails the surface', async () => {
    const oneShot = fakePlatform('slack');
    const { store, marks } = memoryStore([open('slack#one-shot'), open('dingtalk#disabled', 'dingtalk')]);
    const { sweep, lines } = runtime(store, { slack: oneShot });

    const report = await sweep();

    expect(report).toMatchObject({ due: 2, failed: 2, swept: 0 });
    expect(oneShot.sent).toEqual([]);
    expect(marks).toEqual([]);
    expect(lines.filter((l) => l.level === 'error').map((l) => String((l.extra.error as Error).message))).toEqual([
      'platform slack does not stream here',
      'platform dingtalk is not enabled',
    ]);
  });

  it('does not count a surface whose lease was taken over before it was marked', async () => {
    const { store } = memoryStore([open('slack#lost')], { loseLease: ['slack#lost'] });
    const { sweep, swept, lines } = runtime(store, { slack: streamingPlatform('slack', []) });

    const report = await sweep();

    expect(report).toMatchObject({ swept: 0, skipped: 1, failed: 0 });
    expect(swept).toEqual([]);
    expect(lines).toContainEqual(
      expect.objectContaining({ level: 'warn', extra: expect.objectContaining({ pk: 'slack#lost' }) }),
    );
  });

  it('claims nothing more once the invocation is about to time out', async () => {
    const { store, claims } = memoryStore([open('slack#a'), open('slack#b'), open('slack#c')]);
    const { sweep } = runtime(store, { slack: streamingPlatform('slack', []) });
    const remaining = [SWEEP_STOP_MARGIN_MS + 1, SWEEP_STOP_MARGIN_MS - 1, SWEEP_STOP_MARGIN_MS - 1];

    const report = await sweep({ remainingMs: () => remaining.shift() ?? 0 });

    expect(claims.map((c) => c.pk)).toEqual(['slack#a']);
    expect(report).toMatchObject({ due: 3, swept: 1, deferred: 2 });
  });

  it('fails the run when the index cannot be read (the next scheduled run tries again)', async () => {
    const { store } = memoryStore([]);
    const broken: SweeperStore = { ...store, listOpenSurfaces: async () => Promise.reject(new Error('throttled')) };
    const { sweep } = runtime(broken, {});
    await expect(sweep()).rejects.toThrow('throttled');
  });
});
