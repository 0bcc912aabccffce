import { ConfigError } from '#core/errors';
import { createPacedWriter } from '#local-model/stream-pace';
import { MAX_STREAM_PACE_MS, streamPaceFromEnv } from '../../../sandbox/model/stream-pace';

describe('MODEL_STREAM_PACE_MS', () => {
  it('defaults to 0 and reads whole milliseconds up to the maximum', () => {
    expect(streamPaceFromEnv({})).toBe(0);
    expect(streamPaceFromEnv({ MODEL_STREAM_PACE_MS: '' })).toBe(0);
    expect(streamPaceFromEnv({ MODEL_STREAM_PACE_MS: '33' })).toBe(33);
    expect(streamPaceFromEnv({ MODEL_STREAM_PACE_MS: String(MAX_STREAM_PACE_MS) })).toBe(MAX_STREAM_PACE_MS);
  });

  it.each(['-1', '1.5', 'fast', '1e3', '0x10', String(MAX_STREAM_PACE_MS + 1)])(
    'refuses %p with a ConfigError naming the variable',
    (raw) => {
      const read = () => streamPaceFromEnv({ MODEL_STREAM_PACE_MS: raw });
      expect(read).toThrow(ConfigError);
      expect(read).toThrow(`MODEL_STREAM_PACE_MS must be a whole number of milliseconds from 0 to 5000, got "${raw}"`);
    },
  );
});

describe('createPacedWriter', () => {
  /** A fake clock: sleeping advances it, so the waits asked for are the pacing under test. */
  function fakeTime() {
    let now = 1_000;
    const sleeps: number[] = [];
    return {
      now: () => now,
      sleep: async (ms: number) => {
        sleeps.push(ms);
        now += ms;
      },
      advance: (ms: number) => {
        now += ms;
      },
      sleeps,
    };
  }

  it('with pace 0 writes synchronously inside push', () => {
    const written: string[] = [];
    const writer = createPacedWriter({
      paceMs: 0,
      write: (l) => written.push(l),
      signal: new AbortController().signal,
    });
    writer.push('a', true);
    writer.push('b', false);
    expect(written).toEqual(['a', 'b']);
  });

  it('spaces paced writes by the pace, keeps order, and writes unpaced lines straight after', async () => {
    const time = fakeTime();
    const written: [string, number][] = [];
    const writer = createPacedWriter({
      paceMs: 33,
      write: (l) => written.push([l, time.now()]),
      signal: new AbortController().signal,
      now: time.now,
      sleep: time.sleep,
    });
    for (const word of ['a', 'b', 'c']) writer.push(word, true);
    writer.push('[DONE]', false);
    await writer.drained();
    expect(written).toEqual([
      ['a', 1_000],
      ['b', 1_033],
      ['c', 1_066],
      ['[DONE]', 1_066],
    ]);
  });

  it('never slows a producer that is already slower than the pace', async () => {
    const time = fakeTime();
    const writer = createPacedWriter({
      paceMs: 33,
      write: () => undefined,
      signal: new AbortController().signal,
      now: time.now,
      sleep: time.sleep,
    });
    writer.push('a', true);
    await writer.drained();
    time.advance(20);
    writer.push('b', true);
    await writer.drained();
    time.advance(50);
    writer.push('c', true);
    await writer.drained();
    expect(time.sleeps).toEqual([13]);
  });

  it('drops queued writes once the caller hung up', async () => {
    const controller = new AbortController();
    const written: string[] = [];
    const writer = createPacedWriter({ paceMs: 10_000, write: (l) => written.push(l), signal: controller.signal });
    writer.push('a', true);
    writer.push('b', true);
    writer.push('c', true);
    await new Promise((r) => setTimeout(r, 10));
    controller.abort();
    await writer.drained();
    expect(written).toEqual(['a']);
  });
});
