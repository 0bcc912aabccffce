import { ReplySessionClosedError } from '#platforms/shared/reply-session';
import { openStreamingSession, type SurfaceOps } from '#platforms/shared/streaming-session';
import type { OpenedSurface, OpenReplyOptions } from '#platforms/types';

/** A fake clock whose `sleep` advances time, and surface ops whose calls take `callMs` of it. */
function rig(
  options: {
    minIntervalMs?: number;
    callMs?: number;
    openFails?: boolean;
    pushFails?: boolean;
    resumeAfterFailedOpen?: boolean;
  } = {},
) {
  let clock = 0;
  const calls: { op: string; text: string; at: number }[] = [];
  const recorded: OpenedSurface[] = [];
  const take = async (op: string, text: string) => {
    calls.push({ op, text, at: clock });
    await new Promise((resolve) => setImmediate(resolve));
    clock += options.callMs ?? 0;
  };
  const ops: SurfaceOps = {
    minIntervalMs: options.minIntervalMs ?? 300,
    ...(options.resumeAfterFailedOpen ? { resumeAfterFailedOpen: true } : {}),
    calls: () => calls.length,
    open: async (text, record) => {
      const surface = { id: 'card-1', openedAt: clock };
      await record(surface);
      await take('open', text);
      if (options.openFails) throw new Error('card creation refused');
      return surface;
    },
    resume: async (surface, text) => take(`resume:${surface.id}`, text),
    push: async (_surface, text) => {
      await take('push', text);
      if (options.pushFails) throw new Error('rate limited');
    },
    finish: async (surface, text) => {
      await take('finish', text);
      return { messageIds: [surface.id] };
    },
    fail: async (surface, text) => {
      await take('fail', text);
      return { messageIds: [surface.id] };
    },
    sendWhole: async (text) => {
      await take('sendWhole', text);
      return { messageIds: ['plain'] };
    },
  };
  const deps = {
    now: () => clock,
    // Waits for the test to move the clock; when nothing does (the test is awaiting a settle), time jumps ahead.
    sleep: async (ms: number) => {
      const until = clock + ms;
      for (let spins = 0; clock < until && spins < 200; spins++) await new Promise((resolve) => setImmediate(resolve));
      clock = Math.max(clock, until);
    },
  };
  const open = (extra: OpenReplyOptions = {}) =>
    openStreamingSession(
      ops,
      {
        onOpened: async (s) => {
          recorded.push(s);
        },
        ...extra,
      },
      deps,
    );
  const advance = async (ms: number) => {
    clock += ms;
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  };
  return { ops, calls, recorded, open, advance, now: () => clock };
}

describe('openStreamingSession', () => {
  it('makes no platform call before the first update, and a session settled at once is one plain message', async () => {
    const r = rig();
    const session = r.open();
    expect(r.calls).toHaveLength(0);
    await expect(session.finish('whole answer')).resolves.toEqual({ messageIds: ['plain'] });
    expect(r.calls.map((c) => c.op)).toEqual(['sendWhole']);
    expect(r.recorded).toHaveLength(0);
  });

  it('opens on the first update, records the surface first, and finishes on it with the whole text', async () => {
    const r = rig();
    const session = r.open();
    await session.update('Hel');
    await r.advance(0);
    expect(r.recorded).toEqual([{ id: 'card-1', openedAt: 0 }]);
    await expect(session.finish('Hello world')).resolves.toEqual({ messageIds: ['card-1'] });
    expect(r.calls.map((c) => `${c.op}:${c.text}`)).toEqual(['open:Hel', 'finish:Hello world']);
    expect(session.platformCalls).toBe(2);
  });

  it('is single-flight and latest-wins: updates during a call collapse into the newest snapshot', async () => {
    const r = rig({ minIntervalMs: 300, callMs: 100 });
    const session = r.open();
    await session.update('a');
    for (const text of ['ab', 'abc', 'abcd', 'abcde']) await session.update(text);
    await r.advance(1_000);
    await session.finish('abcdef');
    expect(r.calls.map((c) => `${c.op}:${c.text}`)).toEqual(['open:a', 'push:abcde', 'finish:abcdef']);
  });

  it('never pushes faster than minIntervalMs, however fast updates arrive', async () => {
    const r = rig({ minIntervalMs: 300, callMs: 20 });
    const session = r.open();
    let text = '';
    // A 60 s answer with a delta every 50 ms: 1,200 updates.
    for (let i = 0; i < 1_200; i++) {
      text += 'x';
      await session.update(text);
      await r.advance(50);
    }
    await session.finish(text);
    // Spacing runs from the start of one push to the next (`open` first awaits the surface record, so it is left out).
    const pushes = r.calls.filter((c) => c.op === 'push');
    for (let i = 1; i < pushes.length; i++) {
      expect((pushes[i]?.at ?? 0) - (pushes[i - 1]?.at ?? 0)).toBeGreaterThanOrEqual(300);
    }
    // ≈ 60 s / 300 ms, far below one call per update.
    expect(r.calls.length).toBeLessThanOrEqual(60_000 / 300 + 2);
    expect(r.calls.length).toBeGreaterThan(100);
    expect(r.calls.at(-1)).toMatchObject({ op: 'finish', text });
  });

  it('a surface that cannot be opened falls back to one plain message with the whole answer at settle', async () => {
    const r = rig({ openFails: true });
    const errors: unknown[] = [];
    const session = openStreamingSession(
      r.ops,
      {},
      { now: r.now, sleep: async () => undefined, onPushError: (e) => errors.push(e) },
    );
    await session.update('Hel');
    await r.advance(0);
    await session.update('Hello');
    await r.advance(1_000);
    await expect(session.finish('Hello world')).resolves.toEqual({ messageIds: ['plain'] });
    expect(r.calls.map((c) => c.op)).toEqual(['open', 'sendWhole']);
    expect(errors).toHaveLength(1);
  });

  it('a recorded surface whose open failed is resumed at settle where it may be visible, never doubled', async () => {
    const r = rig({ openFails: true, resumeAfterFailedOpen: true, minIntervalMs: 0 });
    const session = r.open();
    await session.update('Hel');
    await r.advance(0);
    await expect(session.finish('Hello world')).resolves.toEqual({ messageIds: ['card-1'] });
    expect(r.calls.map((c) => `${c.op}:${c.text}`)).toEqual(['open:Hel', 'resume:card-1:Hel', 'finish:Hello world']);
  });

  it('a failed interim push is repaired by the next snapshot and the final text', async () => {
    const r = rig({ pushFails: true, minIntervalMs: 0 });
    const session = r.open();
    await session.update('a');
    await r.advance(0);
    await session.update('ab');
    await r.advance(0);
    await session.finish('abc');
    expect(r.calls.at(-1)).toMatchObject({ op: 'finish', text: 'abc' });
  });

  it('resumes a recorded surface instead of opening a second one, also when settled before any update', async () => {
    const surface = { id: 'card-9', openedAt: 1 };
    const r = rig();
    const streamed = r.open({ resume: surface });
    await streamed.update('partial');
    await r.advance(0);
    await streamed.finish('full');
    expect(r.calls.map((c) => `${c.op}:${c.text}`)).toEqual(['resume:card-9:partial', 'finish:full']);

    const r2 = rig();
    const atOnce = r2.open({ resume: surface });
    await atOnce.fail('note');
    expect(r2.calls.map((c) => `${c.op}:${c.text}`)).toEqual(['resume:card-9:note', 'fail:note']);
    expect(r2.recorded).toHaveLength(0);
  });

  it('reports the first visible moment once, and refuses calls after settling', async () => {
    const r = rig({ callMs: 40 });
    const seen: number[] = [];
    const session = r.open({ onFirstVisible: (at) => seen.push(at) });
    await session.update('a');
    await r.advance(0);
    await session.finish('ab');
    expect(seen).toEqual([40]);
    await expect(session.update('abc')).rejects.toBeInstanceOf(ReplySessionClosedError);
    await expect(session.fail('x')).rejects.toBeInstanceOf(ReplySessionClosedError);
  });

  it('abandon waits for an open in flight and its record, then makes no further call', async () => {
    const r = rig({ callMs: 10 });
    let releaseRecord: () => void = () => undefined;
    const recordHeld = new Promise<void>((resolve) => {
      releaseRecord = resolve;
    });
    const session = r.open({
      onOpened: async (s) => {
        await recordHeld;
        r.recorded.push(s);
      },
    });
    await session.update('first words');
    await r.advance(0);
    // The attempt fails while the surface is being recorded: abandon must not return before the record has landed.
    let abandoned = false;
    const abandoning = session.abandon().then(() => {
      abandoned = true;
    });
    await r.advance(0);
    expect(abandoned).toBe(false);
    releaseRecord();
    await abandoning;
    expect(r.recorded).toEqual([{ id: 'card-1', openedAt: 0 }]);

    const before = r.calls.length;
    await expect(session.update('more words')).rejects.toBeInstanceOf(ReplySessionClosedError);
    await expect(session.finish('whole answer')).rejects.toBeInstanceOf(ReplySessionClosedError);
    await r.advance(1_000);
    expect(r.calls).toHaveLength(before);
  });

  it('abandon stops a pump waiting out its interval before its next push', async () => {
    const r = rig({ minIntervalMs: 300 });
    const session = r.open();
    await session.update('one');
    await r.advance(0);
    await session.update('one two');
    await session.abandon();
    await r.advance(1_000);
    expect(r.calls.map((c) => `${c.op}:${c.text}`)).toEqual(['open:one']);
  });
});
