import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '#core/errors';
import {
  createCrashCheckpoint,
  createSendFaultPicker,
  emptyFaultStats,
  faultConfigFromEnv,
  InjectedCrash,
  PromptLog,
  sandboxTimingFromEnv,
  seededRandom,
  startModelFaultProxy,
} from '../../sandbox/faults';
import { queuedEvent } from '../helpers/factories';

/** The fault-injection tools themselves: if they injected nothing, the fault suite would prove nothing. */
describe('faultConfigFromEnv', () => {
  it('is off when no rate is set', () => {
    expect(faultConfigFromEnv({})).toBeUndefined();
    expect(faultConfigFromEnv({ SANDBOX_FAULT_SEED: '3' })).toBeUndefined();
  });

  it('reads the rates and the seed', () => {
    expect(faultConfigFromEnv({ SANDBOX_FAULT_SEND_RATE: '0.2', SANDBOX_FAULT_SEED: '7' })).toEqual({
      sendRate: 0.2,
      modelRate: 0,
      crashRate: 0,
      seed: 7,
    });
  });

  it.each([
    ['SANDBOX_FAULT_SEND_RATE', '1.5'],
    ['SANDBOX_FAULT_SEND_RATE', '-0.1'],
    ['SANDBOX_FAULT_MODEL_RATE', 'lots'],
    ['SANDBOX_FAULT_MODEL_RATE', ''],
  ])('rejects %s=%j, naming it', (name, value) => {
    expect(() => faultConfigFromEnv({ [name]: value })).toThrow(ConfigError);
    expect(() => faultConfigFromEnv({ [name]: value })).toThrow(name);
  });

  it('rejects a seed that is not an integer', () => {
    expect(() => faultConfigFromEnv({ SANDBOX_FAULT_MODEL_RATE: '0.1', SANDBOX_FAULT_SEED: '1.5' })).toThrow(
      'SANDBOX_FAULT_SEED',
    );
  });
});

describe('sandboxTimingFromEnv', () => {
  it('defaults to production-like timing', () => {
    expect(sandboxTimingFromEnv({})).toEqual({
      workerTimeoutMs: 60_000,
      visibilityTimeoutSeconds: 360,
      workerConcurrency: 2,
      platformClockScale: 1,
      sweepIntervalMs: 60_000,
    });
  });

  it('refuses a platform clock scale that is not a positive integer', () => {
    expect(() => sandboxTimingFromEnv({ SANDBOX_PLATFORM_CLOCK_SCALE: '0' })).toThrow(
      /SANDBOX_PLATFORM_CLOCK_SCALE must be an integer 1–10000, got '0'/,
    );
  });

  it('reports every bad value at once', () => {
    let error: unknown;
    try {
      sandboxTimingFromEnv({ SANDBOX_WORKER_TIMEOUT_MS: '5', SANDBOX_QUEUE_VISIBILITY_SECONDS: 'x' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toHaveLength(2);
  });
});

describe('seeded fault picking', () => {
  it('repeats the same sequence for the same seed and differs for another', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    const c = seededRandom(43);
    const first = Array.from({ length: 5 }, a);
    expect(Array.from({ length: 5 }, b)).toEqual(first);
    expect(Array.from({ length: 5 }, c)).not.toEqual(first);
    expect(first.every((v) => v >= 0 && v < 1)).toBe(true);
  });

  it('fails about the configured share of send calls, with every kind of fault, and counts them', () => {
    const stats = emptyFaultStats();
    const pick = createSendFaultPicker(0.2, seededRandom(9), stats);
    const picks = Array.from({ length: 10_000 }, pick);
    const failed = picks.filter((p) => p !== 'none').length / picks.length;
    expect(failed).toBeGreaterThan(0.18);
    expect(failed).toBeLessThan(0.22);
    expect(new Set(picks)).toEqual(new Set(['none', '429', '5xx', 'expired-token']));
    expect(stats.send['429'] + stats.send['5xx'] + stats.send['expired-token'] + stats.send.none).toBe(10_000);
  });

  it('never fails at rate 0', () => {
    const pick = createSendFaultPicker(0, seededRandom(1), emptyFaultStats());
    expect(Array.from({ length: 1_000 }, pick).every((p) => p === 'none')).toBe(true);
  });
});

describe('PromptLog', () => {
  it('keeps the non-system turns of each call and tolerates garbage', () => {
    const log = new PromptLog(2);
    log.record(
      Buffer.from(
        JSON.stringify({
          messages: [
            { role: 'system', content: 'secret' },
            { role: 'user', content: 'q1' },
          ],
        }),
      ),
    );
    log.record(Buffer.from('not json'));
    log.record(Buffer.from('{"messages":[]}'));
    expect(log.calls).toEqual([['q1'], []]);
  });
});

describe('startModelFaultProxy', () => {
  let upstream: Server;
  let upstreamUrl: string;
  const seen: string[] = [];

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        seen.push(`${req.method} ${req.url} ${body}`);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"ok":true}');
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
    upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise<void>((r) => upstream.close(() => r()));
  });

  it('forwards method, path and body unchanged at rate 0', async () => {
    const stats = emptyFaultStats();
    const bodies: string[] = [];
    const proxy = await startModelFaultProxy({
      target: upstreamUrl,
      rate: 0,
      random: seededRandom(1),
      stats,
      onRequest: (b) => bodies.push(b.toString()),
    });
    try {
      const res = await fetch(`${proxy.url}/endpoints/x/invocations`, { method: 'POST', body: '{"messages":[]}' });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ ok: true });
      expect(seen.at(-1)).toBe('POST /endpoints/x/invocations {"messages":[]}');
      expect(bodies).toEqual(['{"messages":[]}']);
      expect(stats.model).toEqual({ none: 1, '5xx': 0, hang: 0 });
    } finally {
      await proxy.close();
    }
  });

  it('at rate 1 answers 500 or hangs until the caller gives up, never forwarding', async () => {
    const stats = emptyFaultStats();
    const proxy = await startModelFaultProxy({ target: upstreamUrl, rate: 1, random: seededRandom(5), stats });
    const before = seen.length;
    try {
      const outcomes = await Promise.all(
        Array.from({ length: 12 }, async () => {
          try {
            const res = await fetch(`${proxy.url}/endpoints/x/invocations`, {
              method: 'POST',
              body: '{}',
              // Long enough for every request to reach the proxy on a loaded machine: a hang is then the only abort.
              signal: AbortSignal.timeout(2000),
            });
            return String(res.status);
          } catch {
            return 'timeout';
          }
        }),
      );
      expect(new Set(outcomes)).toEqual(new Set(['500', 'timeout']));
      expect(stats.model['5xx'] + stats.model.hang).toBe(12);
      expect(seen.length).toBe(before);
    } finally {
      await proxy.close();
    }
  });
});

describe('crash checkpoint', () => {
  const event = (eventId: string) => queuedEvent('slack', { message: { eventId } });
  const steps = ['claimed', 'streaming', 'answered', 'sent', 'recorded'] as const;

  it('crashes each chosen attempt once, at the steps in turn, and lets the redelivery through', () => {
    const stats = emptyFaultStats();
    const checkpoint = createCrashCheckpoint(1, () => 0, stats);
    const crashedAt: string[] = [];
    for (const id of ['a', 'b', 'c', 'd', 'e']) {
      try {
        for (const step of steps) checkpoint(step, event(id));
      } catch (err) {
        expect(err).toBeInstanceOf(InjectedCrash);
        crashedAt.push((err as InjectedCrash).step);
      }
    }
    expect(crashedAt).toEqual(['claimed', 'streaming', 'answered', 'sent', 'recorded']);
    expect(stats.crash).toEqual({ claimed: 1, streaming: 1, answered: 1, sent: 1, recorded: 1 });
  });

  it('never crashes at rate 0', () => {
    const stats = emptyFaultStats();
    const checkpoint = createCrashCheckpoint(0, Math.random, stats);
    for (const step of steps) expect(() => checkpoint(step, event('x'))).not.toThrow();
    expect(Object.values(stats.crash).reduce((a, b) => a + b, 0)).toBe(0);
  });
});
