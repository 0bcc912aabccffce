import type { ConnectorLogger } from '#connector/connector-logger';
import type { LongConnection } from '#connector/long-connection';
import { ConnectionOpenError, type OpenedSession, type SessionCallbacks } from '#connector/session';
import { slackSocketModeSession } from '#connector/slack-socket-mode';
import { superviseConnection } from '#connector/supervisor';
import { SANDBOX_CREDENTIALS } from '../../../sandbox/defaults';
import type { LongConnectionEmulator } from '../../../sandbox/platform-emulator/long-connection-emulator';
import { slackMessagePayload } from '../../../sandbox/platform-emulator/slack';
import { createSlackSocketEmulator } from '../../../sandbox/platform-emulator/slack-socket';
import { testEmulatorContext } from '../../helpers/emulated';
import { ManualTimers } from '../../helpers/manual-timers';
import {
  recordingLogger,
  type SocketEmulatorServer,
  startSocketEmulatorServer,
  until,
} from '../../helpers/socket-emulator-server';

/**
 * `@slack/socket-mode`'s SocketModeClient (pointed at the emulator with `clientOptions.slackApiUrl`) against the Socket
 * Mode emulator: hello, envelopes and acks, Slack's retries, bad frames, and the `disconnect` warning.
 */
const APP_TOKEN = SANDBOX_CREDENTIALS.slack.appToken ?? '';
let emulatorTimers: ManualTimers;
let emulator: LongConnectionEmulator;
let server: SocketEmulatorServer;
const sessions: OpenedSession[] = [];
const connections: LongConnection[] = [];

beforeEach(async () => {
  emulatorTimers = new ManualTimers(Date.now());
  emulator = createSlackSocketEmulator({ appToken: APP_TOKEN, timers: emulatorTimers, ackTimeoutMs: 3_000 });
  server = await startSocketEmulatorServer([emulator]);
});

afterEach(async () => {
  await Promise.all([...sessions.splice(0).map((s) => s.close()), ...connections.splice(0).map((c) => c.stop())]);
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

const opener = (appToken = APP_TOKEN) =>
  slackSocketModeSession({
    appToken,
    apiBaseUrl: server.apiBase('slack'),
    logger: recordingLogger().logger as ConnectorLogger,
  });

async function open(callbacks: SessionCallbacks): Promise<OpenedSession> {
  const session = await opener()(callbacks, new AbortController().signal);
  sessions.push(session);
  return session;
}

const event = (eventId: string) =>
  slackMessagePayload({ chatId: 'C1', userId: 'alice', text: 'hello', eventId }, testEmulatorContext().ctx);

describe('Slack Socket Mode (official SDK) ↔ emulator', () => {
  it('opens through apps.connections.open and resolves at hello', async () => {
    await open(recorder().callbacks);
    expect(emulator.stats()).toMatchObject({ discoveryCalls: 1, socketsOpened: 1, openSockets: 1 });
  });

  it('reports a refused app token as a discovery error naming Slack’s error code only', async () => {
    const failure = await opener('xapp-1-wrong')(recorder().callbacks, new AbortController().signal).catch(
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(ConnectionOpenError);
    expect(failure).toMatchObject({ stage: 'discovery', message: 'apps.connections.open: invalid_auth' });
  });

  it('delivers an events_api envelope as its Events API body, and the ack settles it', async () => {
    const { seen, callbacks } = recorder();
    await open(callbacks);
    const body = event('EvA');
    const pushed = emulator.deliver(body);
    await until('delivered', () => seen.deliveries.length === 1);
    expect(seen.deliveries[0]).toMatchObject({ deliveryId: pushed.deliveryId, payload: body, attempt: 0 });
    await seen.deliveries[0]?.ack();
    expect(await emulator.waitForAck(pushed.deliveryId, 5_000)).toBe(true);
  });

  it('gets an unacknowledged envelope again with retry_attempt, as Slack retries', async () => {
    const { seen, callbacks } = recorder();
    await open(callbacks);
    emulator.deliver(event('EvB'));
    await until('first push', () => seen.deliveries.length === 1);
    emulatorTimers.advance(3_000);
    await until('retry', () => seen.deliveries.length === 2);
    expect(seen.deliveries.map((d) => d.attempt)).toEqual([0, 1]);
    expect(seen.deliveries[1]?.deliveryId).toBe(seen.deliveries[0]?.deliveryId);
  });

  it('logs and skips bad frames (not JSON, unknown type, missing fields) and keeps the socket', async () => {
    const { seen, callbacks } = recorder();
    await open(callbacks);
    emulator.sendRaw('not json at all');
    emulator.sendRaw(JSON.stringify({ type: 'surprise', envelope_id: 'x' }));
    emulator.sendRaw(JSON.stringify({ type: 'events_api', envelope_id: 'x' }));
    await until('three bad frames', () => seen.bad.length === 3);
    expect(seen.bad).toEqual(['not JSON', 'unknown frame type "surprise"', expect.stringContaining('payload')]);
    emulator.deliver(event('EvC'));
    await until('still delivering', () => seen.deliveries.length === 1);
    expect(seen.closed).toEqual([]);
  });

  it('reports a disconnect warning instead of closing at once (the SDK alone would)', async () => {
    const { seen, callbacks } = recorder();
    await open(callbacks);
    emulator.requestDisconnect('warning');
    await until('retiring', () => seen.retiring.length === 1);
    expect(seen.retiring).toEqual(['warning']);
    expect(emulator.stats().openSockets).toBe(1);
    expect(seen.closed).toEqual([]);
  });
});

describe('Slack Socket Mode, supervised', () => {
  function supervised(appToken = APP_TOKEN) {
    const timers = new ManualTimers();
    const connection = superviseConnection({
      platform: 'slack',
      delivery: 'redelivered',
      open: opener(appToken),
      timers,
      random: () => 0.5,
      logger: recordingLogger().logger as ConnectorLogger,
    });
    connections.push(connection);
    return { timers, connection };
  }

  it('opens the replacement before the warned socket closes, and closes the old one itself', async () => {
    const { connection } = supervised();
    connection.start();
    await until('connected', () => connection.status().state === 'connected');
    emulator.requestDisconnect('warning');
    await until('replaced', () => connection.status().reconnects === 1 && emulator.stats().openSockets === 1);
    // Two sockets were open at once, and the old one closed before the emulator's 10 s grace ran out (its timers
    // never advanced): the connector closed it once the replacement said hello.
    expect(emulator.stats()).toMatchObject({ socketsOpened: 2, peakOpenSockets: 2, openSockets: 1 });
    expect(connection.status()).toMatchObject({ state: 'connected', consecutiveFailures: 0 });
  });

  it('retries a refused app token on its backoff only: one discovery call per elapsed wait', async () => {
    const { timers, connection } = supervised('xapp-1-revoked');
    connection.start();
    await until('first failure', () => connection.status().consecutiveFailures === 1);
    expect(emulator.stats().discoveryCalls).toBe(1);
    timers.advance(499); // random 0.5 of a 1 s window: 500 ms
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(emulator.stats().discoveryCalls).toBe(1);
    timers.advance(1);
    await until('second failure', () => connection.status().consecutiveFailures === 2);
    expect(emulator.stats().discoveryCalls).toBe(2);
    expect(connection.status().nextAttemptAt).toBe(timers.now() + 1_000);
    expect(connection.status().lastError).toBe('discovery: apps.connections.open: invalid_auth');
  });
});
