import { createTokenCache, withTokenRetry } from '#platforms/shared/token-cache';

function setup(ttlMs = 7_200_000) {
  let clock = 1_000_000;
  let fetches = 0;
  let release: (() => void) | undefined;
  let gate: Promise<void> | undefined;
  const cache = createTokenCache({
    now: () => clock,
    refreshMarginMs: 60_000,
    fetchToken: async () => {
      fetches++;
      const n = fetches;
      if (gate) await gate;
      return { value: `t${n}`, expiresAt: clock + ttlMs };
    },
  });
  return {
    cache,
    fetches: () => fetches,
    advance: (ms: number) => {
      clock += ms;
    },
    hold: () => {
      gate = new Promise((resolve) => {
        release = resolve;
      });
    },
    release: () => {
      gate = undefined;
      release?.();
    },
  };
}

describe('createTokenCache', () => {
  it('caches until the refresh margin before expiry', async () => {
    const t = setup();
    expect(await t.cache.get()).toBe('t1');
    t.advance(7_200_000 - 60_001);
    expect(await t.cache.get()).toBe('t1');
    t.advance(1);
    expect(await t.cache.get()).toBe('t2');
    expect(t.fetches()).toBe(2);
  });

  it('shares one fetch between concurrent callers', async () => {
    const t = setup();
    t.hold();
    const pending = Promise.all([t.cache.get(), t.cache.get(), t.cache.get()]);
    t.release();
    expect(await pending).toEqual(['t1', 't1', 't1']);
    expect(t.fetches()).toBe(1);
  });

  it('invalidate(rejected) refetches once even when several callers report the same expired token', async () => {
    const t = setup();
    expect(await t.cache.get()).toBe('t1');
    t.cache.invalidate('t1');
    expect(await t.cache.get()).toBe('t2');
    t.cache.invalidate('t1');
    expect(await t.cache.get()).toBe('t2');
    t.cache.invalidate();
    expect(await t.cache.get()).toBe('t3');
  });

  it('propagates a failed fetch and tries again on the next call', async () => {
    let calls = 0;
    const cache = createTokenCache({
      now: () => 0,
      fetchToken: async () => {
        calls++;
        if (calls === 1) throw new Error('token endpoint down');
        return { value: 'ok', expiresAt: 10_000_000 };
      },
    });
    await expect(Promise.all([cache.get(), cache.get()])).rejects.toThrow('token endpoint down');
    expect(await cache.get()).toBe('ok');
    expect(calls).toBe(2);
  });
});

describe('withTokenRetry', () => {
  function tokens() {
    let issued = 0;
    return createTokenCache({ now: () => 0, fetchToken: async () => ({ value: `t${++issued}`, expiresAt: 1e12 }) });
  }

  it('calls once when the answer accepts the token', async () => {
    const seen: string[] = [];
    const answer = await withTokenRetry(
      tokens(),
      async (token) => {
        seen.push(token);
        return { errcode: 0 };
      },
      (a) => a.errcode === 40014,
    );
    expect(answer).toEqual({ errcode: 0 });
    expect(seen).toEqual(['t1']);
  });

  it('calls once more with a fresh token when the answer refuses the first, and no more', async () => {
    const cache = tokens();
    const seen: string[] = [];
    const answer = await withTokenRetry(
      cache,
      async (token) => {
        seen.push(token);
        return { errcode: 40014 };
      },
      (a) => a.errcode === 40014,
    );
    expect(answer).toEqual({ errcode: 40014 });
    expect(seen).toEqual(['t1', 't2']);
    expect(await cache.get()).toBe('t2');
  });
});
