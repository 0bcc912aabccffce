import type { ConnectorLogger } from '#connector/connector-logger';
import type { LeaseGrant, LeaseHolder, LeaseStore } from '#connector/lease';
import { leasedConnection } from '#connector/leased-connection';
import type { ConnectionStatus, LongConnection } from '#connector/long-connection';
import { ManualTimers } from '../../helpers/manual-timers';
import { recordingLogger } from '../../helpers/socket-emulator-server';

/**
 * The leased connection's rules on a manual clock, over an in-memory lease with the DynamoDB store's semantics (the
 * store itself runs against dynalite in test/integration/connector/wecom-long-connection.test.ts).
 */
function memoryLease(durationMs: number) {
  let item: { holder: string; until: number; fence: number } | undefined;
  const state = { failing: false };
  const store: LeaseStore = {
    async acquire(holder, now): Promise<LeaseGrant | LeaseHolder> {
      if (state.failing) throw new Error('ProvisionedThroughputExceededException');
      if (item && item.until >= now && item.holder !== holder) return { holder: item.holder, until: item.until };
      item = { holder, until: now + durationMs, fence: (item?.fence ?? 0) + 1 };
      return { key: 'k', ...item };
    },
    async renew(grant, now) {
      if (state.failing) throw new Error('ProvisionedThroughputExceededException');
      if (!item || item.holder !== grant.holder || item.fence !== grant.fence) return undefined;
      item.until = now + durationMs;
      return { ...grant, until: item.until };
    },
    async release(grant) {
      if (item && item.holder === grant.holder && item.fence === grant.fence) item.until = 0;
    },
  };
  return {
    store,
    state,
    steal: (holder: string, now: number) => (item = { holder, until: now + durationMs, fence: (item?.fence ?? 0) + 1 }),
  };
}

function fakeTerm(log: string[], name: string): LongConnection {
  let state: ConnectionStatus['state'] = 'idle';
  return {
    platform: 'wecom',
    delivery: 'fire-and-forget',
    start: () => {
      state = 'connected';
      log.push(`${name} start`);
    },
    stop: async () => {
      state = 'stopped';
      log.push(`${name} stop`);
    },
    status: () => ({ platform: 'wecom', state, reconnects: 0, consecutiveFailures: 0, openSockets: 1 }),
    on: () => () => undefined,
  };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

async function step(timers: ManualTimers, ms: number): Promise<void> {
  for (let at = 0; at < ms; at += 100) {
    timers.advance(Math.min(100, ms - at));
    await flush();
    await flush();
  }
}

describe('leasedConnection', () => {
  it('stops the connection a margin before the lease could pass when renewals keep failing', async () => {
    const timers = new ManualTimers(Date.now());
    const lease = memoryLease(3_000);
    const log: string[] = [];
    const connection = leasedConnection({
      platform: 'wecom',
      delivery: 'fire-and-forget',
      lease: lease.store,
      holderId: 'a',
      leaseMs: 3_000,
      renewEveryMs: 1_000,
      marginMs: 500,
      timers,
      logger: recordingLogger().logger as ConnectorLogger,
      startTerm: () => ({ connection: fakeTerm(log, 'term') }),
    });
    connection.start();
    await step(timers, 100);
    expect(log).toEqual(['term start']);
    lease.state.failing = true;
    // Renewals at +1 s and +2 s fail but the lease (until +3 s) is still good beyond the margin.
    await step(timers, 2_000);
    expect(log).toEqual(['term start']);
    expect(connection.status().state).toBe('connected');
    // By +2.5 s (the lease's end less the margin) the connection is closed, before another replica may take it.
    await step(timers, 1_000);
    expect(log).toEqual(['term start', 'term stop']);
    expect(connection.status()).toMatchObject({
      state: 'standby',
      lastError: expect.stringContaining('renewal failed'),
    });
    // Once the store answers again it acquires anew and reconnects.
    lease.state.failing = false;
    await step(timers, 1_000);
    expect(log).toEqual(['term start', 'term stop', 'term start']);
    await connection.stop();
  });

  it('has the connection closed by the margin before the lease ends, not at the next beat after it', async () => {
    const timers = new ManualTimers(Date.now());
    const lease = memoryLease(3_000);
    const log: string[] = [];
    const stoppedAt: number[] = [];
    const acquiredAt = timers.now();
    const connection = leasedConnection({
      platform: 'wecom',
      delivery: 'fire-and-forget',
      lease: lease.store,
      holderId: 'a',
      leaseMs: 3_000,
      renewEveryMs: 1_000,
      marginMs: 500,
      timers,
      logger: recordingLogger().logger as ConnectorLogger,
      startTerm: () => {
        const term = fakeTerm(log, 'term');
        return {
          connection: {
            ...term,
            stop: async () => {
              stoppedAt.push(timers.now());
              await term.stop();
            },
          },
        };
      },
    });
    connection.start();
    await step(timers, 100);
    lease.state.failing = true;
    await step(timers, 3_500);
    expect(stoppedAt).toHaveLength(1);
    // Renewals fail from +1 s; the lease (acquired at +0, 3 s long) may pass to another replica at +3 s.
    expect(stoppedAt[0]).toBeLessThanOrEqual(acquiredAt + 3_000 - 500);
    await connection.stop();
  });

  it('when superseded stops the connection at once, not only after the extras (the relay) stopped', async () => {
    const timers = new ManualTimers(Date.now());
    const lease = memoryLease(3_000);
    const log: string[] = [];
    const supersede: ((reason: string) => void)[] = [];
    let extrasDone: () => void = () => undefined;
    const connection = leasedConnection({
      platform: 'wecom',
      delivery: 'fire-and-forget',
      lease: lease.store,
      holderId: 'a',
      leaseMs: 3_000,
      renewEveryMs: 1_000,
      timers,
      logger: recordingLogger().logger as ConnectorLogger,
      startTerm: (superseded) => {
        supersede.push(superseded);
        return {
          connection: fakeTerm(log, 'term'),
          // A relay in its long poll: it stops only when the poll returns (up to 20 s, or its 6 s grace).
          stopExtras: () =>
            new Promise<void>((resolve) => {
              extrasDone = resolve;
            }),
        };
      },
    });
    connection.start();
    await step(timers, 100);
    supersede[0]?.('disconnected_event');
    await step(timers, 100);
    // The platform is closing the socket: a supervisor still running would reopen it and kick the newcomer.
    expect(log).toEqual(['term start', 'term stop']);
    extrasDone();
    await connection.stop();
  });

  it('closes at once when a renewal is refused (the lease was taken), and waits in standby', async () => {
    const timers = new ManualTimers(Date.now());
    const lease = memoryLease(3_000);
    const log: string[] = [];
    const connection = leasedConnection({
      platform: 'wecom',
      delivery: 'fire-and-forget',
      lease: lease.store,
      holderId: 'a',
      leaseMs: 3_000,
      renewEveryMs: 1_000,
      timers,
      logger: recordingLogger().logger as ConnectorLogger,
      startTerm: () => ({ connection: fakeTerm(log, 'term') }),
    });
    connection.start();
    await step(timers, 100);
    lease.steal('b', timers.now());
    await step(timers, 1_000);
    expect(log).toEqual(['term start', 'term stop']);
    expect(connection.status()).toMatchObject({ state: 'standby' });
    await step(timers, 1_000);
    expect(connection.status()).toMatchObject({ state: 'standby', leaseHolder: 'b' });
    await connection.stop();
  });

  it('after being superseded pauses instead of reconnecting, keeps the lease, and doubles the pause', async () => {
    const timers = new ManualTimers(Date.now());
    const lease = memoryLease(3_000);
    const log: string[] = [];
    const { lines, logger } = recordingLogger();
    const supersede: ((reason: string) => void)[] = [];
    const connection = leasedConnection({
      platform: 'wecom',
      delivery: 'fire-and-forget',
      lease: lease.store,
      holderId: 'a',
      leaseMs: 3_000,
      renewEveryMs: 1_000,
      supersededPauseMs: 5_000,
      timers,
      logger: logger as ConnectorLogger,
      startTerm: (superseded) => {
        supersede.push(superseded);
        return { connection: fakeTerm(log, `term${supersede.length}`) };
      },
    });
    const disconnected: string[] = [];
    connection.on('disconnected', (reason) => disconnected.push(reason));
    connection.start();
    await step(timers, 100);
    supersede[0]?.('disconnected_event');
    await step(timers, 100);
    expect(log).toEqual(['term1 start', 'term1 stop']);
    expect(disconnected).toEqual(['disconnected_event']);
    expect(connection.status()).toMatchObject({ state: 'standby', nextAttemptAt: expect.any(Number) });
    // The lease is still ours meanwhile: another replica cannot take it.
    expect(await lease.store.acquire('b', timers.now())).toMatchObject({ holder: 'a' });
    await step(timers, 4_000);
    expect(log).toHaveLength(2);
    await step(timers, 1_100);
    expect(log).toEqual(['term1 start', 'term1 stop', 'term2 start']);
    // Superseded again right away: twice the pause.
    supersede[1]?.('disconnected_event');
    await step(timers, 9_000);
    expect(log).toHaveLength(4);
    // At the first beat (every 1 s) after the pause.
    await step(timers, 2_000);
    expect(log.at(-1)).toBe('term3 start');
    expect(lines.filter((l) => l.level === 'error').map((l) => l.fields.pauseMs)).toEqual([5_000, 10_000]);
    await connection.stop();
    // An orderly stop releases the lease.
    expect(await lease.store.acquire('b', timers.now())).toMatchObject({ holder: 'b', fence: 2 });
  });
});
