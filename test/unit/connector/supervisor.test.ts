import type { ConnectorLogger } from '#connector/connector-logger';
import { connectionHealthy, healthSnapshot } from '#connector/health';
import { ConnectionOpenError, type OpenedSession, type OpenSession, type SessionCallbacks } from '#connector/session';
import { superviseConnection } from '#connector/supervisor';
import { ManualTimers } from '../../helpers/manual-timers';
import { recordingLogger } from '../../helpers/socket-emulator-server';

/** The supervisor over scripted sockets: every open is answered by the test, every timer by `ManualTimers`. */
interface FakeSocket {
  readonly callbacks: SessionCallbacks;
  readonly signal: AbortSignal;
  closed: boolean;
  resolve(): void;
  reject(err: unknown): void;
}

function rig(options: { random?: () => number; openTimeoutMs?: number } = {}) {
  const timers = new ManualTimers();
  const { lines, logger } = recordingLogger();
  const sockets: FakeSocket[] = [];
  const open: OpenSession = (callbacks, signal) =>
    new Promise<OpenedSession>((resolve, reject) => {
      const socket: FakeSocket = {
        callbacks,
        signal,
        closed: false,
        resolve: () =>
          resolve({
            close: async () => {
              socket.closed = true;
            },
          }),
        reject,
      };
      sockets.push(socket);
    });
  const connection = superviseConnection({
    platform: 'slack',
    delivery: 'redelivered',
    open,
    timers,
    random: options.random ?? (() => 0.999_999),
    logger: logger as ConnectorLogger,
    ...(options.openTimeoutMs ? { openTimeoutMs: options.openTimeoutMs } : {}),
  });
  const events: string[] = [];
  connection.on('connected', () => events.push('connected'));
  connection.on('disconnected', (reason) => events.push(`disconnected: ${reason}`));
  return { timers, sockets, connection, events, lines };
}

/** Lets promise callbacks (an open resolving) run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));
const unauthorized = () => new ConnectionOpenError('discovery', 'gateway/connections/open: HTTP 401', 401);

describe('supervised long connection', () => {
  it('connects, and reports connected in its status and health', async () => {
    const r = rig();
    r.connection.start();
    r.sockets[0]?.resolve();
    await settle();
    expect(r.events).toEqual(['connected']);
    const status = r.connection.status();
    expect(status).toMatchObject({ state: 'connected', reconnects: 0, consecutiveFailures: 0, openSockets: 1 });
    expect(connectionHealthy(status, r.timers.now(), 30_000)).toBe(true);
  });

  it('retries refused discovery (401) with growing jittered waits, never in a tight loop', async () => {
    const r = rig();
    r.connection.start();
    const waits: number[] = [];
    for (let attempt = 0; attempt < 9; attempt++) {
      r.sockets[attempt]?.reject(unauthorized());
      await settle();
      // Exactly one attempt per elapsed wait: nothing else is scheduled, and no new open starts before it fires.
      const pending = r.timers.pendingDelays().filter((d) => d !== 30_000);
      expect(pending).toHaveLength(1);
      waits.push(pending[0] ?? -1);
      expect(r.sockets).toHaveLength(attempt + 1);
      r.timers.advance((pending[0] ?? 0) - 1);
      expect(r.sockets).toHaveLength(attempt + 1);
      r.timers.advance(1);
      expect(r.sockets).toHaveLength(attempt + 2);
    }
    expect(waits).toEqual([999, 1_999, 3_999, 7_999, 15_999, 31_999, 59_999, 59_999, 59_999]);
    const status = r.connection.status();
    expect(status).toMatchObject({ state: 'reconnecting', consecutiveFailures: 9 });
    expect(status.lastError).toContain('HTTP 401');
    // Failing but on schedule: healthy (a restart would not fix credentials); a stalled loop is not.
    expect(connectionHealthy({ ...status, nextAttemptAt: r.timers.now() + 1_000 }, r.timers.now(), 30_000)).toBe(true);
    expect(connectionHealthy({ ...status, nextAttemptAt: r.timers.now() - 60_000 }, r.timers.now(), 30_000)).toBe(
      false,
    );
    expect(r.lines.filter((l) => l.message === 'long connection open failed')).toHaveLength(9);
  });

  it('honours a platform Retry-After over a shorter jittered wait', async () => {
    const r = rig({ random: () => 0 });
    r.connection.start();
    r.sockets[0]?.reject(new ConnectionOpenError('discovery', 'rate limited', 429, { retryAfterMs: 7_000 }));
    await settle();
    expect(r.timers.pendingDelays().filter((d) => d !== 30_000)).toEqual([7_000]);
  });

  it('reconnects after a loss within 1 s, and backs off when the new socket drops again at once', async () => {
    const r = rig();
    r.connection.start();
    r.sockets[0]?.resolve();
    await settle();
    r.timers.advance(120_000); // up for two minutes: a stable socket
    r.sockets[0]?.callbacks.closed('socket closed');
    expect(r.timers.pendingDelays()).toEqual([999]);
    r.timers.advance(999);
    r.sockets[1]?.resolve();
    await settle();
    r.timers.advance(5_000); // up 5 s only: flapping
    r.sockets[1]?.callbacks.closed('socket closed');
    r.timers.advance(999);
    r.sockets[2]?.reject(unauthorized());
    await settle();
    expect(r.timers.pendingDelays().filter((d) => d !== 30_000)).toEqual([1_999]);
    expect(r.events).toEqual(['connected', 'disconnected: socket closed', 'connected', 'disconnected: socket closed']);
    expect(r.connection.status()).toMatchObject({ reconnects: 1, consecutiveFailures: 2 });
  });

  it('resets the failure count once a socket stayed up a minute', async () => {
    const r = rig();
    r.connection.start();
    r.sockets[0]?.reject(unauthorized());
    await settle();
    r.timers.advance(999);
    r.sockets[1]?.reject(unauthorized());
    await settle();
    r.timers.advance(1_999);
    r.sockets[2]?.resolve();
    await settle();
    expect(r.connection.status().consecutiveFailures).toBe(2);
    r.timers.advance(60_000);
    expect(r.connection.status().consecutiveFailures).toBe(0);
  });

  it('opens a replacement at once when the platform announces a disconnect, and closes the old socket after', async () => {
    const r = rig();
    r.connection.start();
    r.sockets[0]?.resolve();
    await settle();
    r.sockets[0]?.callbacks.retiring('warning');
    // No backoff for a requested reconnect: the replacement is opening now, the old socket still serves.
    expect(r.sockets).toHaveLength(2);
    expect(r.sockets[0]?.closed).toBe(false);
    expect(r.connection.status()).toMatchObject({ state: 'connected' });
    r.sockets[1]?.resolve();
    await settle();
    expect(r.sockets[0]?.closed).toBe(true);
    r.sockets[0]?.callbacks.closed('socket closed');
    expect(r.events).toEqual(['connected', 'connected']);
    expect(r.connection.status()).toMatchObject({ state: 'connected', reconnects: 1, consecutiveFailures: 0 });
  });

  it('counts an open that never completes as failed, aborts it, and closes a socket that opens too late', async () => {
    const r = rig({ openTimeoutMs: 5_000 });
    r.connection.start();
    r.timers.advance(5_000);
    expect(r.sockets[0]?.signal.aborted).toBe(true);
    expect(r.connection.status()).toMatchObject({ state: 'reconnecting', consecutiveFailures: 1 });
    r.sockets[0]?.resolve();
    await settle();
    expect(r.sockets[0]?.closed).toBe(true);
    expect(r.events).toEqual([]);
  });

  it('passes events on with their platform, and reports bad frames as warnings without closing', async () => {
    const r = rig();
    const seen: string[] = [];
    r.connection.on('event', (d) => seen.push(`${d.platform}:${d.deliveryId}`));
    r.connection.start();
    r.sockets[0]?.resolve();
    await settle();
    r.sockets[0]?.callbacks.badFrame('not JSON', 12);
    r.sockets[0]?.callbacks.delivery({
      deliveryId: 'env-1',
      payload: {},
      attempt: 0,
      receivedAt: 1,
      ack: async () => {},
    });
    expect(seen).toEqual(['slack:env-1']);
    expect(r.lines.find((l) => l.message === 'bad frame skipped')?.fields).toEqual({
      platform: 'slack',
      reason: 'not JSON',
      bytes: 12,
    });
    expect(r.connection.status()).toMatchObject({ state: 'connected', lastEventAt: 1 });
  });

  it('closes a socket that finishes opening during stop before stop resolves', async () => {
    const r = rig();
    r.connection.start();
    const stopping = r.connection.stop();
    r.sockets[0]?.resolve();
    await stopping;
    expect(r.sockets[0]?.closed).toBe(true);
    expect(r.events).toEqual([]);
  });

  it('stops: closes its socket, cancels the retry, emits nothing more and is unhealthy', async () => {
    const r = rig();
    r.connection.start();
    r.sockets[0]?.resolve();
    await settle();
    await r.connection.stop();
    expect(r.sockets[0]?.closed).toBe(true);
    r.sockets[0]?.callbacks.closed('socket closed');
    expect(r.timers.pendingDelays().filter((d) => d !== 30_000)).toEqual([]);
    expect(r.events).toEqual(['connected']);
    const snapshot = healthSnapshot([r.connection.status()], r.timers.now(), 30_000);
    expect(snapshot).toMatchObject({ healthy: false, connections: [{ state: 'stopped', healthy: false }] });
  });
});
