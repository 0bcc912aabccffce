import { MalformedEventError, ReplayError, SignatureError } from '#core/errors';
import type { OpenedSurface, ReplyTarget } from '#platforms/types';
import { STREAM_WINDOW_MS, wecomStreamId } from '#platforms/wecom/index';
import { STREAM_MIN_INTERVAL_MS, STREAM_WINDOW_MARGIN_MS } from '#platforms/wecom/stream';
import { buildEncryptedWeComRequest, createWeComEmulator } from '../../../../sandbox/platform-emulator/wecom';
import { NOW, toRaw } from '../dingtalk/helpers';
import { openPassiveReply, type StreamRig, settleMicrotasks, startStreamRig } from './stream-harness';

let rig: StreamRig;

afterEach(async () => {
  await rig?.server.close();
});

const target = (r: StreamRig): ReplyTarget => ({
  handle: r.message.replyHandle,
  format: 'markdown',
  idempotencyKey: r.message.eventId,
});

/** What WeCom would show after its next refresh of the message's stream. */
async function refreshed(r: StreamRig) {
  const parsed = r.platform.parse(r.refresh(streamIdOf(r)), r.clock.now);
  if (parsed.kind !== 'stream_refresh') throw new Error(`expected a stream refresh, got ${parsed.kind}`);
  const answer = await r.platform.answerStreamRefresh!(parsed.streamId, r.clock.now);
  expect(answer.statusCode).toBe(200);
  return openPassiveReply(answer.body).stream;
}

function streamIdOf(r: StreamRig): string {
  const handle = r.message.replyHandle;
  if (handle.platform !== 'wecom' || !handle.streamId) throw new Error('the ack started no stream');
  return handle.streamId;
}

describe('WeCom streaming: the ack starts a stream', () => {
  it('answers a message in a streamed chat with an encrypted passive stream reply, id derived from the msgid', async () => {
    rig = await startStreamRig();
    const handle = rig.message.replyHandle;
    expect(handle).toMatchObject({
      streamId: wecomStreamId(rig.message.eventId),
      streamUntil: NOW + STREAM_WINDOW_MS,
    });
    expect(wecomStreamId(rig.message.eventId)).toMatch(/^[0-9a-f]{32}$/);
  });

  it('the ack decrypts to {msgtype: stream, finish: false, content: ""} and the ignored-answer is an empty 200', async () => {
    rig = await startStreamRig();
    const event = createWeComEmulator().buildMessageEvent({ chatId: 'wr-team', userId: 'u1', text: 'hi' }, rig.ctx);
    const parsed = rig.platform.parse(toRaw(event), rig.clock.now);
    if (parsed.kind !== 'message' || !parsed.ack) throw new Error('expected a message with an ack');
    expect(openPassiveReply(parsed.ack.body)).toEqual({
      msgtype: 'stream',
      stream: { id: wecomStreamId(event.eventId), finish: false, content: '' },
    });
    expect(parsed.ignoredAck).toEqual({ statusCode: 200, headers: { 'content-type': 'text/plain' }, body: '' });
  });

  it.each([
    ['an opted-out chat', { config: { streaming: { enabled: true, optOutChats: ['wecom:wr-team'] } } }],
    ['streaming switched off', { config: { streaming: { enabled: false, optOutChats: [] } } }],
    ['no snapshot store', { withStore: false }],
  ] as [string, Parameters<typeof startStreamRig>[0]][])(
    'acks %s with the plain empty 200 and no stream on the handle',
    async (_name, options = {}) => {
      rig = await startStreamRig(options);
      expect(rig.message.replyHandle).not.toHaveProperty('streamId');
      expect(rig.platform.streaming).toBe(options.withStore !== false);
    },
  );
});

describe('WeCom streaming: refresh callbacks', () => {
  it('answers a refresh before any snapshot with empty, unfinished content', async () => {
    rig = await startStreamRig();
    expect(await refreshed(rig)).toEqual({ id: streamIdOf(rig), finish: false, content: '' });
  });

  it('closes (finish, empty) a stream nobody wrote once it has been polled for the whole window', async () => {
    rig = await startStreamRig();
    await refreshed(rig);
    rig.clock.now += STREAM_WINDOW_MS - 1;
    expect((await refreshed(rig)).finish).toBe(false);
    rig.clock.now += 1;
    expect(await refreshed(rig)).toEqual({ id: streamIdOf(rig), finish: true, content: '' });
  });

  it('rejects a refresh whose signature was tampered with', async () => {
    rig = await startStreamRig();
    const tampered = rig.refresh(streamIdOf(rig), (r) => ({ ...r, query: { ...r.query, nonce: 'forged' } }));
    expect(() => rig.platform.parse(tampered, rig.clock.now)).toThrow(SignatureError);
  });

  it('rejects a replayed refresh outside the timestamp window', async () => {
    rig = await startStreamRig();
    const request = rig.refresh(streamIdOf(rig));
    expect(() => rig.platform.parse(request, rig.clock.now + 301_000)).toThrow(ReplayError);
  });

  it('rejects a refresh without stream.id as malformed', async () => {
    rig = await startStreamRig();
    const request = toRaw(buildEncryptedWeComRequest({ msgid: 'r1', msgtype: 'stream', stream: {} }, rig.ctx));
    expect(() => rig.platform.parse(request, rig.clock.now)).toThrow(MalformedEventError);
  });

  it('a stray refresh on an adapter without a store is closed at once', async () => {
    rig = await startStreamRig({ withStore: false });
    const answer = await rig.platform.answerStreamRefresh!('abc', rig.clock.now);
    expect(openPassiveReply(answer.body).stream).toEqual({ id: 'abc', finish: true, content: '' });
  });
});

describe('WeCom streaming: the worker session', () => {
  it('is lazy: nothing is recorded or written before the first update', async () => {
    rig = await startStreamRig();
    const opened: OpenedSurface[] = [];
    await rig.platform.openReply(target(rig), { stream: true, onOpened: async (s) => void opened.push(s) });
    await settleMicrotasks();
    expect(opened).toEqual([]);
    expect(rig.store.writes).toEqual([]);
  });

  it('records the stream id before the first write, then refreshes show the growing full text', async () => {
    rig = await startStreamRig();
    const events: string[] = [];
    const session = await rig.platform.openReply(target(rig), {
      stream: true,
      onOpened: async (surface) => {
        events.push(`opened ${surface.id} writes=${rig.store.writes.length}`);
      },
    });
    await session.update('第一');
    await settleMicrotasks();
    expect(events).toEqual([`opened ${streamIdOf(rig)} writes=0`]);
    expect(await refreshed(rig)).toEqual({ id: streamIdOf(rig), finish: false, content: '第一' });

    rig.clock.now += STREAM_MIN_INTERVAL_MS;
    await session.update('第一 第二');
    await settleMicrotasks();
    expect((await refreshed(rig)).content).toBe('第一 第二');

    const result = await session.finish('第一 第二 第三。');
    expect(result.messageIds).toEqual([streamIdOf(rig)]);
    expect(await refreshed(rig)).toEqual({ id: streamIdOf(rig), finish: true, content: '第一 第二 第三。' });
    expect(rig.ctx.deliveries).toEqual([]); // nothing went to response_url
    expect(session.platformCalls).toBe(3);
  });

  it('fail ends the stream with the note', async () => {
    rig = await startStreamRig();
    const session = await rig.platform.openReply(target(rig), { stream: true });
    await session.update('partial answer');
    await settleMicrotasks();
    await session.fail('partial answer\n\n(The model could not finish.)');
    expect(await refreshed(rig)).toMatchObject({
      finish: true,
      content: 'partial answer\n\n(The model could not finish.)',
    });
  });

  it('a reply complete at once (no update) becomes one finished snapshot', async () => {
    rig = await startStreamRig();
    const opened: OpenedSurface[] = [];
    const session = await rig.platform.openReply(target(rig), {
      stream: true,
      onOpened: async (s) => void opened.push(s),
    });
    await session.finish('cached answer');
    expect(opened).toEqual([]);
    expect(await refreshed(rig)).toMatchObject({ finish: true, content: 'cached answer' });
    expect(rig.ctx.deliveries).toEqual([]);
  });

  it('resumes a crashed attempt on the same stream: full overwrite, no second record', async () => {
    rig = await startStreamRig();
    const first = await rig.platform.openReply(target(rig), { stream: true });
    await first.update('an answer that was cut by a cra');
    await settleMicrotasks();
    // The worker dies; the redelivery answers again from scratch, on the recorded surface.
    rig.clock.now += 30_000;
    const opened: OpenedSurface[] = [];
    const second = await rig.platform.openReply(target(rig), {
      stream: true,
      resume: { id: streamIdOf(rig), openedAt: NOW },
      onOpened: async (s) => void opened.push(s),
    });
    await second.update('A fresh');
    await settleMicrotasks();
    expect(await refreshed(rig)).toMatchObject({ finish: false, content: 'A fresh' });
    await second.finish('A fresh answer.');
    expect(opened).toEqual([]);
    expect(await refreshed(rig)).toMatchObject({ finish: true, content: 'A fresh answer.' });
    expect([...rig.store.rows.keys()]).toEqual([streamIdOf(rig)]);
  });

  it('after the window the end goes to response_url and interim text is no longer written', async () => {
    rig = await startStreamRig();
    const session = await rig.platform.openReply(target(rig), { stream: true });
    await session.update('early text');
    await settleMicrotasks();
    rig.clock.now = NOW + STREAM_WINDOW_MS - STREAM_WINDOW_MARGIN_MS;
    await session.update('late text nobody polls');
    await settleMicrotasks();
    expect(rig.store.writes.map((w) => w.snapshot.content)).toEqual(['early text']);
    const result = await session.finish('The whole answer.');
    expect(result.messageIds).toEqual([rig.message.eventId]);
    expect(rig.ctx.deliveries).toEqual([expect.objectContaining({ chatId: 'wr-team', text: 'The whole answer.' })]);
    expect(rig.store.rows.get(streamIdOf(rig))?.finish).toBe(false);
  });

  it('a session opened after the window sends one response_url message', async () => {
    rig = await startStreamRig();
    rig.clock.now = NOW + STREAM_WINDOW_MS;
    const opened: OpenedSurface[] = [];
    const session = await rig.platform.openReply(target(rig), {
      stream: true,
      onOpened: async (s) => void opened.push(s),
    });
    await session.update('too late to stream');
    await settleMicrotasks();
    await session.finish('too late to stream, sent whole');
    expect(opened).toEqual([]);
    expect(rig.store.writes).toEqual([]);
    expect(rig.ctx.deliveries.map((d) => d.text)).toEqual(['too late to stream, sent whole']);
  });

  it('falls back to response_url when the snapshot store fails, so the member still gets the answer', async () => {
    rig = await startStreamRig();
    const session = await rig.platform.openReply(target(rig), { stream: true });
    rig.store.failPuts = true;
    await session.update('never shown');
    await settleMicrotasks();
    await session.finish('Delivered anyway.');
    expect(rig.ctx.deliveries.map((d) => d.text)).toEqual(['Delivered anyway.']);
  });

  it('a one-shot session (stream off in the worker) still ends the stream the ack started', async () => {
    rig = await startStreamRig();
    const session = await rig.platform.openReply(target(rig));
    await session.finish('One piece.');
    expect(await refreshed(rig)).toMatchObject({ finish: true, content: 'One piece.' });
    expect(rig.ctx.deliveries).toEqual([]);
  });

  it('cuts a snapshot to 20480 UTF-8 bytes and neutralises mentions', async () => {
    rig = await startStreamRig();
    const session = await rig.platform.openReply(target(rig), { stream: true });
    await session.finish(`<@all> ${'长'.repeat(10_000)}`);
    const shown = (await refreshed(rig)).content;
    expect(Buffer.byteLength(shown, 'utf8')).toBeLessThanOrEqual(20_480);
    expect(shown).not.toContain('<@all>');
  });

  it('writes at most one snapshot per 500 ms: a 60 s answer updated every 50 ms', async () => {
    rig = await startStreamRig({ drivenClock: true });
    const session = await rig.platform.openReply(target(rig), { stream: true });
    const start = rig.clock.now;
    let text = '';
    for (let t = 0; t < 60_000; t += 50) {
      rig.clock.now = start + t;
      text += 'x';
      await session.update(text);
      await settleMicrotasks(2);
    }
    // The pump may be waiting out its interval: time keeps passing while the reply settles.
    let settled = false;
    const finished = session.finish(`${text}.`).finally(() => {
      settled = true;
    });
    while (!settled) {
      rig.clock.now += 50;
      await settleMicrotasks(2);
    }
    await finished;
    const times = rig.store.writes.map((w) => w.snapshot.updatedAt);
    for (let i = 2; i < times.length - 1; i++) {
      expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(STREAM_MIN_INTERVAL_MS);
    }
    expect(session.platformCalls).toBeLessThanOrEqual(60_000 / STREAM_MIN_INTERVAL_MS + 2);
    expect(session.platformCalls).toBeGreaterThan(60);
    expect(await refreshed(rig)).toMatchObject({ finish: true, content: `${text}.` });
  });
});
