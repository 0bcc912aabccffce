import type { ConnectorLogger } from '#connector/connector-logger';
import { ConnectionOpenError, type OpenedSession, type SessionCallbacks } from '#connector/session';
import { superviseConnection } from '#connector/supervisor';
import { CommandNotAnsweredError, type WecomAibotSocket, wecomAibotSession } from '#connector/wecom-aibot';
import {
  answerFrame,
  callbackFrame,
  decodeWecomFrame,
  encodeWecomFrame,
  eventTypeOf,
  newReqId,
  respondStreamFrame,
  sendMarkdownFrame,
  subscribeFrame,
  WECOM_AIBOT_CMDS,
  WECOM_AIBOT_ERRCODES,
} from '#connector/wecom-aibot-frames';
import { createRelaySender } from '#connector/wecom-relay';
import { renderBarChart } from '#data-analysis/chart';
import type { RelayFrame } from '#platforms/wecom/relay';
import { streamImages } from '#platforms/wecom/stream-protocol';
import { SANDBOX_CREDENTIALS } from '../../../sandbox/defaults';
import {
  createWecomAibotEmulator,
  WECOM_AIBOT_PATH,
  WECOM_EMULATED_AUTH_ERRCODE,
  WECOM_EMULATED_BAD_REQUEST_ERRCODE,
  type WecomAibotEmulator,
  type WecomSocketReply,
} from '../../../sandbox/platform-emulator/wecom-aibot';
import { ManualTimers } from '../../helpers/manual-timers';
import {
  recordingLogger,
  type SocketEmulatorServer,
  startSocketEmulatorServer,
  until,
} from '../../helpers/socket-emulator-server';

/** The hand-rolled WeCom AI-bot client against the emulator, both speaking `wecom-aibot-frames.ts`. */
const { botId, encodingAesKey } = SANDBOX_CREDENTIALS.wecom;
const secret = SANDBOX_CREDENTIALS.wecom.botSecret ?? '';
let emulator: WecomAibotEmulator;
let server: SocketEmulatorServer;
let replies: WecomSocketReply[];
const sessions: OpenedSession[] = [];
const chartPng = renderBarChart([5, 3]);

beforeEach(async () => {
  replies = [];
  emulator = createWecomAibotEmulator({ botId, secret, encodingAesKey, onReply: (r) => replies.push(r) });
  server = await startSocketEmulatorServer([emulator]);
});

afterEach(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.close()));
  await server.close();
});

const url = () => `${server.url.replace(/^http/, 'ws')}${WECOM_AIBOT_PATH}`;

function recorder() {
  const seen = {
    deliveries: [] as Parameters<SessionCallbacks['delivery']>[0][],
    bad: [] as string[],
    closed: [] as string[],
    superseded: [] as string[],
    live: undefined as WecomAibotSocket | undefined,
  };
  const callbacks: SessionCallbacks = {
    delivery: (d) => seen.deliveries.push(d),
    badFrame: (reason) => seen.bad.push(reason),
    retiring: () => undefined,
    closed: (reason) => seen.closed.push(reason),
  };
  return { seen, callbacks };
}

function opener(seen: ReturnType<typeof recorder>['seen'], options: { secret?: string; pingIntervalMs?: number } = {}) {
  return wecomAibotSession({
    url: url(),
    botId,
    secret: options.secret ?? secret,
    logger: recordingLogger().logger as ConnectorLogger,
    pingIntervalMs: options.pingIntervalMs ?? 0,
    ackTimeoutMs: 300,
    onSuperseded: (reason) => seen.superseded.push(reason),
    onLive: (socket, live) => {
      seen.live = live ? socket : undefined;
    },
  });
}

async function open(rec: ReturnType<typeof recorder>, options: { secret?: string } = {}): Promise<OpenedSession> {
  const session = await opener(rec.seen, options)(rec.callbacks, new AbortController().signal);
  sessions.push(session);
  return session;
}

const message = (msgid: string, chatid = 'wr-group-1') => ({
  msgid,
  aibotid: botId,
  chatid,
  chattype: 'group',
  from: { userid: 'alice' },
  msgtype: 'text',
  text: { content: '@GroupGate hello' },
});

describe('WeCom AI-bot frames', () => {
  it('round-trips every frame shape through the codec', () => {
    const frames = [
      subscribeFrame('bot', 's3cret', newReqId(WECOM_AIBOT_CMDS.subscribe)),
      respondStreamFrame('req-1', 'stream-1', 'partial', false),
      sendMarkdownFrame(newReqId(WECOM_AIBOT_CMDS.sendMsg), 'chat-1', '**done**'),
      answerFrame('req-1', WECOM_AIBOT_ERRCODES.invalidReqId, 'invalid req_id'),
      callbackFrame(WECOM_AIBOT_CMDS.eventCallback, 'req-2', { msgtype: 'event', event: { eventtype: 'enter_chat' } }),
    ];
    for (const frame of frames) {
      expect(decodeWecomFrame(encodeWecomFrame(frame))).toEqual({ ok: true, value: frame });
    }
    expect(eventTypeOf(frames[4] ?? frames[0] ?? answerFrame('', 0, ''))).toBe('enter_chat');
    expect(eventTypeOf(frames[1] ?? answerFrame('', 0, ''))).toBeUndefined();
    expect(newReqId('ping', 1_700_000_000_000)).toMatch(/^ping_1700000000000_[0-9a-f]{8}$/);
  });

  it('names what is wrong with a frame that is not the protocol', () => {
    expect(decodeWecomFrame('not json')).toEqual({ ok: false, reason: 'not JSON' });
    expect(decodeWecomFrame('{"cmd":"ping"}')).toEqual({ ok: false, reason: 'missing or invalid fields: headers' });
    expect(decodeWecomFrame('{"cmd":"ping","headers":{"req_id":""}}')).toMatchObject({ ok: false });
    expect(decodeWecomFrame('{"headers":{"req_id":"r"},"errcode":"0"}')).toEqual({
      ok: false,
      reason: 'missing or invalid fields: errcode',
    });
  });
});

describe('WeCom AI-bot client ↔ emulator', () => {
  it('subscribes with the bot id and secret, and passes callbacks on whole, with their req_id', async () => {
    const rec = recorder();
    await open(rec);
    expect(emulator.subscriptions()).toMatchObject({ accepted: 1, refused: 0 });
    const pushed = emulator.deliver(message('m1'));
    await until('delivered', () => rec.seen.deliveries.length === 1);
    const [delivery] = rec.seen.deliveries;
    expect(delivery).toMatchObject({ deliveryId: pushed.deliveryId, attempt: 0 });
    expect(delivery?.payload).toEqual({
      cmd: 'aibot_msg_callback',
      headers: { req_id: pushed.deliveryId },
      body: message('m1'),
    });
    await expect(delivery?.ack()).resolves.toBeUndefined();
  });

  it('fails the open at the handshake when the secret is refused, naming the errcode only', async () => {
    const rec = recorder();
    const attempt = opener(rec.seen, { secret: 'wrong' })(rec.callbacks, new AbortController().signal);
    await expect(attempt).rejects.toThrow(ConnectionOpenError);
    await expect(attempt).rejects.toThrow(`aibot_subscribe refused: errcode ${WECOM_EMULATED_AUTH_ERRCODE}`);
    await attempt.catch((err: Error) => expect(err.message).not.toContain('wrong'));
    expect(emulator.subscriptions().refused).toBe(1);
    expect(rec.seen.closed).toEqual([]);
  });

  it('sends replies serially per req_id and reports what WeCom answered', async () => {
    const rec = recorder();
    await open(rec);
    const pushed = emulator.deliver(message('m2', 'wr-group-2'));
    await until('delivered', () => rec.seen.deliveries.length === 1);
    const socket = rec.seen.live;
    if (!socket) throw new Error('no live socket');
    // Three frames at once on one req_id: they reach WeCom in order, each after the previous one's answer.
    const answers = await Promise.all([
      socket.respond(pushed.deliveryId, 's2', 'one', false),
      socket.respond(pushed.deliveryId, 's2', 'one two', false),
      socket.respond(pushed.deliveryId, 's2', 'one two three', true),
    ]);
    expect(answers.map((a) => a.errcode)).toEqual([0, 0, 0]);
    expect(replies.map((r) => [r.text, r.stream, r.first])).toEqual([
      ['one', 'streaming', true],
      ['one two', 'streaming', false],
      ['one two three', 'finished', false],
    ]);
    expect(replies[0]).toMatchObject({ chatId: 'wr-group-2', replyTo: 'm2', messageId: 'stream-s2' });
    // A finished stream takes no more updates; an unknown req_id is refused.
    expect((await socket.respond(pushed.deliveryId, 's2', 'again', true)).errcode).toBe(846608);
    expect((await socket.respond('nobody', 's3', 'x', true)).errcode).toBe(846605);
    expect((await socket.sendMarkdown('wr-group-2', 'proactive')).errcode).toBe(0);
    expect(replies.at(-1)).toMatchObject({ chatId: 'wr-group-2', text: 'proactive', first: true });
  });

  it("carries a final relay frame's images as msg_item, none on an interim frame; a wrong md5 is refused", async () => {
    const rec = recorder();
    await open(rec);
    const pushed = emulator.deliver(message('m9', 'wr-group-9'));
    await until('delivered', () => rec.seen.deliveries.length === 1);
    const socket = rec.seen.live;
    if (!socket) throw new Error('no live socket');
    const { images } = streamImages([{ mediaType: 'image/png', data: chartPng, alt: 'chart', width: 76, height: 220 }]);
    const [image] = images;
    if (!image) throw new Error('no image');
    expect((await socket.respond(pushed.deliveryId, 's9', 'table', false, images)).errcode).toBe(0);
    // `respondStreamFrame` leaves images off an interim frame, so that one went out without them.
    expect(replies.at(-1)).not.toHaveProperty('images');
    const wrongMd5 = [{ ...image, md5: '0'.repeat(32) }];
    expect((await socket.respond(pushed.deliveryId, 's9', 'table', true, wrongMd5)).errcode).toBe(
      WECOM_EMULATED_BAD_REQUEST_ERRCODE,
    );
    const relay = createRelaySender(recordingLogger().logger as ConnectorLogger);
    const final: RelayFrame = {
      v: 1,
      reqId: pushed.deliveryId,
      chatId: 'wr-group-9',
      streamId: 's9',
      content: 'table, whole',
      finish: true,
      images,
      at: 0,
    };
    expect(await relay(final, socket)).toBe('sent');
    expect(replies.at(-1)).toMatchObject({
      text: 'table, whole',
      stream: 'finished',
      images: [{ mediaType: 'image/png', height: 220, data: image.base64 }],
    });
    expect(
      emulator
        .commands()
        .filter((c) => c.streamId === 's9')
        .map((c) => [c.errcode, c.msgItems ?? 0]),
    ).toEqual([
      [0, 0],
      [WECOM_EMULATED_BAD_REQUEST_ERRCODE, 1],
      [0, 1],
    ]);
  });

  it("reads an answer that echoes its command's cmd as the answer, not as an unknown command", async () => {
    await server.close();
    emulator = createWecomAibotEmulator({
      botId,
      secret,
      encodingAesKey,
      onReply: (r) => replies.push(r),
      answersEchoCmd: true,
    });
    server = await startSocketEmulatorServer([emulator]);
    const rec = recorder();
    await open(rec);
    const pushed = emulator.deliver(message('m9', 'wr-group-9'));
    await until('delivered', () => rec.seen.deliveries.length === 1);
    const socket = rec.seen.live;
    if (!socket) throw new Error('no live socket');
    expect((await socket.respond(pushed.deliveryId, 's9', 'answer', true)).errcode).toBe(0);
    expect((await socket.sendMarkdown('wr-group-9', 'proactive')).errcode).toBe(0);
    expect(rec.seen.bad).toEqual([]);
  });

  it('logs and skips frames that are not the protocol, keeping the socket', async () => {
    const rec = recorder();
    await open(rec);
    emulator.sendRaw('not json');
    emulator.sendRaw('{"cmd":"aibot_unknown","headers":{"req_id":"r1"}}');
    await until('bad frames seen', () => rec.seen.bad.length === 2);
    expect(rec.seen.bad).toEqual(['not JSON', 'unknown cmd aibot_unknown']);
    emulator.deliver(message('m3'));
    await until('still delivering', () => rec.seen.deliveries.length === 1);
  });

  it('reports being superseded when another connection subscribes, and delivers no disconnected_event', async () => {
    const first = recorder();
    await open(first);
    const second = recorder();
    await open(second);
    await until(
      'first superseded and closed',
      () => first.seen.superseded.length === 1 && first.seen.closed.length === 1,
    );
    expect(first.seen.deliveries).toEqual([]);
    expect(first.seen.live).toBeUndefined();
    expect(emulator.subscriptions()).toMatchObject({ accepted: 2, kicked: 1 });
    emulator.deliver(message('m4'));
    await until('the newer socket gets events', () => second.seen.deliveries.length === 1);
  });

  it('a command gets CommandNotAnsweredError when the socket closes before its answer', async () => {
    const rec = recorder();
    await open(rec);
    const pushed = emulator.deliver(message('m5'));
    await until('delivered', () => rec.seen.deliveries.length === 1);
    const socket = rec.seen.live;
    if (!socket) throw new Error('no live socket');
    emulator.dropAll();
    await until('closed', () => rec.seen.closed.length === 1);
    await expect(socket.respond(pushed.deliveryId, 's5', 'late', true)).rejects.toThrow(CommandNotAnsweredError);
  });
});

describe('WeCom AI-bot connection under the supervisor', () => {
  it('cuts a socket whose heartbeats go unanswered twice and reconnects with backoff', async () => {
    const timers = new ManualTimers(Date.now());
    const rec = recorder();
    const connection = superviseConnection({
      platform: 'wecom',
      delivery: 'fire-and-forget',
      open: wecomAibotSession({
        url: url(),
        botId,
        secret,
        logger: recordingLogger().logger as ConnectorLogger,
        timers,
        pingIntervalMs: 30_000,
      }),
      timers,
      random: () => 0.5,
      backoff: { baseMs: 1_000, capMs: 60_000, stableMs: 60_000 },
      logger: recordingLogger().logger as ConnectorLogger,
    });
    connection.on('disconnected', (reason) => rec.seen.closed.push(reason));
    connection.start();
    await until('connected', () => connection.status().state === 'connected');
    emulator.mutePings(true);
    timers.advance(30_000); // first ping, unanswered
    timers.advance(30_000); // second ping, unanswered
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(connection.status().state).toBe('connected');
    timers.advance(30_000); // two missed: the socket is cut
    await until('lost', () => rec.seen.closed.length === 1);
    expect(rec.seen.closed[0]).toContain('2 heartbeats unanswered');
    // The retry waits its jittered backoff (0.5 × 1 s window) before reconnecting.
    emulator.mutePings(false);
    expect(connection.status()).toMatchObject({ state: 'reconnecting', nextAttemptAt: timers.now() + 500 });
    timers.advance(500);
    await until('reconnected', () => connection.status().state === 'connected');
    expect(emulator.stats().socketsOpened).toBe(2);
    await connection.stop();
  });

  it('keeps retrying a refused subscribe with growing backoff, never a tight loop', async () => {
    const timers = new ManualTimers(Date.now());
    const connection = superviseConnection({
      platform: 'wecom',
      delivery: 'fire-and-forget',
      open: wecomAibotSession({
        url: url(),
        botId,
        secret: 'revoked',
        logger: recordingLogger().logger as ConnectorLogger,
        timers,
        pingIntervalMs: 0,
      }),
      timers,
      random: () => 0.999,
      backoff: { baseMs: 1_000, capMs: 60_000, stableMs: 60_000 },
      logger: recordingLogger().logger as ConnectorLogger,
    });
    connection.start();
    const waits: number[] = [];
    for (let i = 1; i <= 3; i++) {
      await until(`failure ${i}`, () => connection.status().consecutiveFailures === i);
      const status = connection.status();
      expect(status.lastError).toContain(`aibot_subscribe refused: errcode ${WECOM_EMULATED_AUTH_ERRCODE}`);
      waits.push((status.nextAttemptAt ?? 0) - timers.now());
      timers.advance(status.nextAttemptAt ? status.nextAttemptAt - timers.now() : 0);
    }
    expect(waits).toEqual([999, 1_998, 3_996]);
    await connection.stop();
  });
});

describe('WeCom relay sender', () => {
  const frame = (over: Partial<RelayFrame> = {}): RelayFrame => ({
    v: 1,
    reqId: 'req',
    chatId: 'chat',
    streamId: 'stream',
    content: 'text',
    finish: true,
    at: 0,
    ...over,
  });
  const fakeSocket = (respond: number[], send: number[] = [0]) => {
    const calls: string[] = [];
    const socket: WecomAibotSocket = {
      respond: async (_r, _s, content, finish) => {
        calls.push(`respond ${content} ${finish}`);
        return { errcode: respond.shift() ?? 0, errmsg: '' };
      },
      sendMarkdown: async (chatId, content) => {
        calls.push(`send ${chatId} ${content}`);
        return { errcode: send.shift() ?? 0, errmsg: '' };
      },
    };
    return { socket, calls };
  };

  it('drops interim frames once WeCom refused the stream, and sends the final text once by chat', async () => {
    const relay = createRelaySender(recordingLogger().logger as ConnectorLogger);
    const { socket, calls } = fakeSocket([WECOM_AIBOT_ERRCODES.streamExpired]);
    expect(await relay(frame({ content: 'a', finish: false }), socket)).toBe('dropped');
    expect(await relay(frame({ content: 'ab', finish: false }), socket)).toBe('dropped');
    expect(await relay(frame({ content: 'abc' }), socket)).toBe('fallback');
    expect(await relay(frame({ content: 'abc' }), socket)).toBe('dropped');
    expect(calls).toEqual(['respond a false', 'send chat abc']);
  });

  it('the aibot_send_msg fallback carries the text alone and logs the images it leaves out', async () => {
    const { lines, logger } = recordingLogger();
    const relay = createRelaySender(logger as ConnectorLogger);
    const { socket, calls } = fakeSocket([WECOM_AIBOT_ERRCODES.invalidReqId]);
    const { images } = streamImages([{ mediaType: 'image/png', data: chartPng, alt: 'chart', width: 76, height: 220 }]);
    expect(await relay(frame({ content: 'table', images }), socket)).toBe('fallback');
    expect(calls).toEqual(['respond table true', 'send chat table']);
    expect(lines.map((l) => l.message)).toContain('wecom relay: images left out of the aibot_send_msg fallback');
  });

  it('asks for a retry when the command was not answered, and logs a refused final as an error', async () => {
    const { lines, logger } = recordingLogger();
    const relay = createRelaySender(logger as ConnectorLogger);
    const unanswered: WecomAibotSocket = {
      respond: async () => {
        throw new CommandNotAnsweredError('aibot_respond_msg', 'socket closed');
      },
      sendMarkdown: async () => ({ errcode: 0, errmsg: '' }),
    };
    expect(await relay(frame(), unanswered)).toBe('retry');
    const { socket } = fakeSocket([40_008]);
    expect(await relay(frame({ streamId: 'other' }), socket)).toBe('dropped');
    expect(lines.filter((l) => l.level === 'error').map((l) => l.fields.errcode)).toEqual([40_008]);
  });

  it('never sends the fallback message twice: an unanswered aibot_send_msg is dropped and logged as an error', async () => {
    const { lines, logger } = recordingLogger();
    const relay = createRelaySender(logger as ConnectorLogger);
    const calls: string[] = [];
    const socket: WecomAibotSocket = {
      respond: async () => ({ errcode: WECOM_AIBOT_ERRCODES.invalidReqId, errmsg: 'invalid req_id' }),
      sendMarkdown: async (chatId, content) => {
        calls.push(`send ${chatId} ${content}`);
        throw new CommandNotAnsweredError('aibot_send_msg', 'socket closed');
      },
    };
    expect(await relay(frame({ content: 'final' }), socket)).toBe('dropped');
    // The queue hands the same final frame out again (it was not deleted, or was redelivered): nothing more is sent.
    expect(await relay(frame({ content: 'final' }), socket)).toBe('dropped');
    expect(calls).toEqual(['send chat final']);
    expect(lines.filter((l) => l.level === 'error').map((l) => l.message)).toEqual([
      'wecom relay: aibot_send_msg not answered; the reply may not have been shown, and is not sent again',
    ]);
  });
});
