import { compileLexicon } from '#core/safety/content-filter';
import { type ModerationProvider, type ModerationVerdict, moderate } from '#core/safety/moderation';

const lexicon = compileLexicon([
  { term: 'badword', level: 2, category: 'profanity' },
  { term: '敏感词', level: 3, category: 'politics' },
]);
const BLOCKED = '内容包含敏感信息,请重新表述';

function providerReturning(verdict: ModerationVerdict): ModerationProvider & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    check: async (text) => {
      calls.push(text);
      return verdict;
    },
  };
}

/** Never answers on its own; resolves only when aborted, recording that it was. */
function hangingProvider(): ModerationProvider & { aborted: boolean } {
  const provider = {
    aborted: false,
    check: (_text: string, signal?: AbortSignal) =>
      new Promise<ModerationVerdict>((_resolve, reject) => {
        signal?.addEventListener('abort', () => {
          provider.aborted = true;
          reject(new Error('aborted'));
        });
      }),
  };
  return provider;
}

describe('moderate', () => {
  it('behaves like the lexicon filter when no provider is configured', async () => {
    const result = await moderate('a badword here', { lexicon });
    expect(result).toMatchObject({ decision: 'mask', text: 'a ******* here', provider: { status: 'skipped' } });
  });

  it('passes the original text to the provider and keeps the lexicon decision when the provider finds nothing', async () => {
    const provider = providerReturning({ level: 0, categories: [] });
    const result = await moderate('a badword here', { lexicon, provider });
    expect(provider.calls).toEqual(['a badword here']);
    expect(result).toMatchObject({ decision: 'mask', text: 'a ******* here', maxLevel: 2 });
    expect(result.provider).toEqual({ status: 'ok', verdict: { level: 0, categories: [] } });
  });

  it('blocks when the provider verdict maps to block, and raises maxLevel', async () => {
    const provider = providerReturning({ level: 3, categories: ['violence'] });
    const result = await moderate('looks harmless', { lexicon, provider, language: 'en' });
    expect(result).toMatchObject({
      decision: 'block',
      text: 'The content contains sensitive information. Please rephrase.',
      maxLevel: 3,
      matches: [],
    });
  });

  it('blocks on a provider verdict whose action is mask, since the provider gives no spans to mask', async () => {
    const result = await moderate('looks harmless', {
      lexicon,
      provider: providerReturning({ level: 2, categories: [] }),
    });
    expect(result).toMatchObject({ decision: 'block', text: BLOCKED, maxLevel: 2 });
  });

  it('allows when the provider verdict maps to allow but still reports its level', async () => {
    const result = await moderate('fine', { lexicon, provider: providerReturning({ level: 1, categories: ['tone'] }) });
    expect(result).toMatchObject({ decision: 'allow', text: 'fine', maxLevel: 1 });
  });

  it('does not call the provider when the lexicon already blocks', async () => {
    const provider = providerReturning({ level: 0, categories: [] });
    const result = await moderate('敏感词', { lexicon, provider });
    expect(provider.calls).toEqual([]);
    expect(result).toMatchObject({ decision: 'block', text: BLOCKED, provider: { status: 'skipped' } });
  });

  describe('provider failures', () => {
    const failing: ModerationProvider = {
      check: async () => {
        throw new Error('503 from moderation API');
      },
    };

    it('fail closed by default: an error blocks', async () => {
      const result = await moderate('hello', { lexicon, provider: failing });
      expect(result.decision).toBe('block');
      expect(result.text).toBe(BLOCKED);
      expect(result.provider).toEqual({ status: 'failed', reason: 'error', message: '503 from moderation API' });
    });

    it('fail open keeps the lexicon decision and reports the failure', async () => {
      const result = await moderate('a badword', { lexicon, provider: failing, providerFailure: 'open' });
      expect(result).toMatchObject({ decision: 'mask', text: 'a *******', provider: { status: 'failed' } });
    });

    it('times out, aborts the call, and fails closed', async () => {
      const provider = hangingProvider();
      const result = await moderate('hello', { lexicon, provider, providerTimeoutMs: 20 });
      expect(result.decision).toBe('block');
      expect(result.provider).toMatchObject({ status: 'failed', reason: 'timeout' });
      expect(provider.aborted).toBe(true);
    });

    it('treats a malformed verdict as a failure', async () => {
      const malformed = { check: async () => ({ level: 7, categories: 'x' }) as unknown as ModerationVerdict };
      const closed = await moderate('hello', { lexicon, provider: malformed });
      expect(closed).toMatchObject({ decision: 'block', provider: { status: 'failed', reason: 'bad_response' } });
      const open = await moderate('hello', { lexicon, provider: malformed, providerFailure: 'open' });
      expect(open).toMatchObject({ decision: 'allow', text: 'hello' });
    });
  });
});
