import { WebSocket } from 'ws';
import type { ConnectorLogger } from '#connector/connector-logger';
import { dingtalkStreamSession } from '#connector/dingtalk-stream';
import { DINGTALK_ROBOT_TOPIC } from '#connector/dingtalk-stream-frames';
import { ConnectionOpenError, type OpenedSession, type SessionCallbacks } from '#connector/session';
import { SANDBOX_CREDENTIALS } from '../../../sandbox/defaults';
import { dingtalkMessageBody } from '../../../sandbox/platform-emulator/dingtalk';
import {
  createDingTalkStreamEmulator,
  type DingTalkStreamEmulator,
} from '../../../sandbox/platform-emulator/dingtalk-stream';
import { testEmulatorContext } from '../../helpers/emulated';
import { ManualTimers } from '../../helpers/manual-timers';
import {
  recordingLogger,
  type SocketEmulatorServer,
  startSocketEmulatorServer,
  until,
} from '../../helpers/socket-emulator-server';

/** The hand-rolled DingTalk Stream client against the emulator, both speaking `dingtalk-stream-frames.ts`. */
const { appKey, appSecret } = SANDBOX_CREDENTIALS.dingtalk;
let emulatorTimers: ManualTimers;
let emulator: DingTalkStreamEmulator;
let server: SocketEmulatorServer;
const sessions: OpenedSession[] = [];

beforeEach(async () => {
  emulatorTimers = new ManualTimers(Date.now());
  emulator = createDingTalkStreamEmulator({ clientId: appKey, clientSecret: appSecret, timers: emulatorTimers });
  server = await startSocketEmulatorServer([emulator]);
});

afterEach(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.close()));
  await server.close();
});

function recorder() {
  const seen = {
    deliveries: [] as Parameters<SessionCallbacks['delivery']>[0][],
    bad: [] as string[],
    retiring: [] as string[],
    closed: [] as string[],
  };
  const callbacks: SessionCallbacks = {
    delivery: (d) => seen.deliveries.push(d),
    badFrame: (reason) => seen.bad.push(reason),
    retiring: (reason) => seen.retiring.push(reason),
    closed: (reason) => seen.closed.push(reason),
  };
  return { seen, callbacks };
}

async function open(callbacks: SessionCallbacks, secret = appSecret): Promise<OpenedSession> {
  const session = await dingtalkStreamSession({
    clientId: appKey,
    clientSecret: secret,
    apiBaseUrl: server.apiBase('dingtalk'),
    logger: recordingLogger().logger as ConnectorLogger,
    timers: new ManualTimers(),
    keepAliveMs: 0,
  })(callbacks, new AbortController().signal);
  sessions.push(session);
  return session;
}

const message = (msgId: string) =>
  dingtalkMessageBody({ chatId: 'cid1', userId: 'bob', text: 'hello', eventId: msgId }, testEmulatorContext().ctx);

describe('DingTalk Stream client ↔ emulator', () => {
  it('discovers with clientId/clientSecret and the robot subscription, then opens with the ticket', async () => {
    await open(recorder().callbacks);
    expect(emulator.subscriptions()).toEqual([[{ type: 'CALLBACK', topic: DINGTALK_ROBOT_TOPIC }]]);
    await until('socket open', () => emulator.stats().openSockets === 1);
  });

  it('refuses a spent ticket: each ticket opens one socket', async () => {
    const res = await fetch(`${server.apiBase('dingtalk')}/v1.0/gateway/connections/open`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        clientId: appKey,
        clientSecret: appSecret,
        subscriptions: [{ type: 'CALLBACK', topic: DINGTALK_ROBOT_TOPIC }],
      }),
    });
    const { endpoint, ticket } = (await res.json()) as { endpoint: string; ticket: string };
    const connect = () =>
      new Promise<string>((resolve) => {
        const ws = new WebSocket(`${endpoint}?ticket=${ticket}`);
        ws.once('open', () => {
          ws.close();
          resolve('open');
        });
        ws.once('error', (err) => resolve(err.message));
      });
    expect(await connect()).toBe('open');
    expect(await connect()).toContain('401');
  });

  it('reports refused credentials as a discovery error with the status, never the secret', async () => {
    const failure = await open(recorder().callbacks, 'wrong-secret').catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(ConnectionOpenError);
    expect(failure).toMatchObject({ stage: 'discovery', status: 401 });
    expect((failure as Error).message).toContain('InvalidAuthentication');
    expect((failure as Error).message).not.toContain('wrong-secret');
  });

  it('echoes a SYSTEM ping with its opaque', async () => {
    await open(recorder().callbacks);
    await until('socket open', () => emulator.stats().openSockets === 1);
    const [ping] = emulator.ping();
    await until('ping echoed', () => emulator.pings().every((p) => p.echoedAt !== undefined));
    expect(emulator.pings()).toEqual([expect.objectContaining({ opaque: ping?.opaque, echoedAt: expect.any(Number) })]);
  });

  it('delivers a robot CALLBACK as the robot message, and its ack reaches the platform', async () => {
    const { seen, callbacks } = recorder();
    await open(callbacks);
    await until('socket open', () => emulator.stats().openSockets === 1);
    const body = message('msgA');
    const pushed = emulator.deliver(body);
    await until('delivered', () => seen.deliveries.length === 1);
    expect(seen.deliveries[0]).toMatchObject({ deliveryId: pushed.deliveryId, payload: body, attempt: 0 });
    await seen.deliveries[0]?.ack();
    expect(await emulator.waitForAck(pushed.deliveryId, 5_000)).toBe(true);
    expect(emulator.stats()).toMatchObject({ acked: 1, unexpectedFrames: 0 });
  });

  it('logs and skips bad frames (not JSON, unknown type, missing fields) and keeps the socket', async () => {
    const { seen, callbacks } = recorder();
    await open(callbacks);
    await until('socket open', () => emulator.stats().openSockets === 1);
    emulator.sendRaw('{not json');
    emulator.sendRaw(
      JSON.stringify({ specVersion: '1.0', type: 'BROADCAST', headers: { topic: 't', messageId: 'm' }, data: '{}' }),
    );
    emulator.sendRaw(
      JSON.stringify({ specVersion: '1.0', type: 'CALLBACK', headers: { topic: DINGTALK_ROBOT_TOPIC }, data: '{}' }),
    );
    await until('three bad frames', () => seen.bad.length === 3);
    expect(seen.bad).toEqual([
      'not JSON',
      expect.stringContaining('type'),
      expect.stringContaining('headers.messageId'),
    ]);
    emulator.deliver(message('msgB'));
    await until('still delivering', () => seen.deliveries.length === 1);
    expect(seen.closed).toEqual([]);
  });

  it('takes SYSTEM disconnect as a request to reconnect: no reply, socket open until the server closes it', async () => {
    const { seen, callbacks } = recorder();
    await open(callbacks);
    await until('socket open', () => emulator.stats().openSockets === 1);
    emulator.requestDisconnect();
    await until('retiring', () => seen.retiring.length === 1);
    expect(seen.retiring).toEqual(['persistent connection is timeout']);
    expect(emulator.stats()).toMatchObject({ openSockets: 1, unexpectedFrames: 0 });
    emulatorTimers.advance(10_000);
    await until('closed by the server', () => seen.closed.length === 1);
    expect(seen.closed[0]).toContain('1000');
  });
});
