import { ConfigError } from '#core/errors';
import { compileLexicon } from '#core/safety/content-filter';
import { createStreamGuard, holdBackFor, type StreamGuardPorts } from '#core/safety/stream-guard';
import { lexiconStreamScreen } from '#core/safety/stream-guard-lexicon';
import { findPiiRuns } from '#core/safety/stream-guard-pii-runs';
import { ENTRIES, finalReply, guardFactory, LEXICON, maskPiiPort, streamThrough } from './stream-guard-helpers';

const perChar = (text: string): string[] => Array.from(text);
const newGuard = guardFactory();
const ports: StreamGuardPorts = { ...lexiconStreamScreen(LEXICON), maskPii: maskPiiPort };

describe('createStreamGuard: streaming clean text', () => {
  it('shows growing prefixes while streaming and everything on completion', () => {
    const raw = '好的，我们明天开会讨论项目进度。 The report is ready for review today, see you soon.';
    const run = streamThrough(newGuard(), perChar(raw));
    expect(run.snapshots.length).toBeGreaterThan(10);
    run.snapshots.forEach((shown, i) => {
      expect(raw.startsWith(shown)).toBe(true);
      if (i > 0) expect(shown.length).toBeGreaterThan(run.snapshots[i - 1]!.length);
    });
    expect(run.final).toBe(raw);
    expect(run.blocked).toBe(false);
  });

  it('holds back at least the hold-back window and shows nothing for a text shorter than it', () => {
    const guard = createStreamGuard(ports, { holdBackChars: 20 });
    expect(guard.push('Hello there, world')).toBeUndefined();
    const shown = guard.push('Hello there, world. How are you today?');
    expect(shown).toBeDefined();
    expect(shown!.length).toBeLessThanOrEqual('Hello there, world. How are you today?'.length - 20);
    expect(guard.complete('Hello there, world. How are you today?')).toBe('Hello there, world. How are you today?');
  });

  it('returns undefined when nothing new may be shown, instead of repeating the last snapshot', () => {
    const guard = newGuard();
    const first = guard.push('The report is ready for review today and tomorrow');
    expect(first).toBeDefined();
    expect(guard.push('The report is ready for review today and tomorrow')).toBeUndefined();
  });

  it('shows a number that is not PII once its run has ended', () => {
    const guard = newGuard();
    const raw = 'Version 1.2.3 is out now, enjoy the new release everyone';
    const run = streamThrough(guard, perChar(raw));
    expect(run.snapshots.some((s) => s.includes('1.2.3 is'))).toBe(true);
  });

  it('restarts safely when a push rewrites text already shown', () => {
    const guard = newGuard();
    expect(guard.push('The report is ready for review today, thanks')).toBeDefined();
    const shown = guard.push('Something else entirely 13812345678 and more words here');
    expect(shown).toBeDefined();
    expect('Something else entirely '.startsWith(shown!) || shown!.startsWith('Something else entirely')).toBe(true);
    expect(shown).not.toMatch(/\d/);
  });
});

describe('createStreamGuard: lexicon', () => {
  it('masks a mask-level term in snapshots exactly as the final filter does', () => {
    const raw = 'he says badword to everyone, 赌博 is bad, thanks for listening today';
    const run = streamThrough(newGuard(), perChar(raw));
    const final = finalReply(raw)!;
    expect(final).toContain('*******');
    for (const shown of run.snapshots) expect(final.startsWith(shown)).toBe(true);
    expect(run.snapshots.some((s) => s.includes('says *******'))).toBe(true);
    expect(run.final).toBe(final);
  });

  it('holds back a partial term spread over more separators than the hold-back window', () => {
    const guard = createStreamGuard(ports, { holdBackChars: 2 });
    const raw = 'ok then b . a . d . w . o . r';
    for (let i = 1; i <= raw.length; i++) {
      const shown = guard.push(raw.slice(0, i));
      if (shown !== undefined) expect(shown).not.toMatch(/b \./);
    }
    const final = guard.complete(`${raw} . d done`);
    expect(final).toBe(finalReply(`${raw} . d done`));
    expect(final).toMatch(/^ok then \*+ done$/);
  });

  it('blocks once a block-level term is complete, shows nothing more, and completes with undefined', () => {
    const guard = newGuard();
    const raw = 'The quick report says we will leak plan details now and forever';
    const run = streamThrough(guard, perChar(raw));
    for (const shown of run.snapshots) expect(shown).not.toMatch(/leak|lea|le$/);
    expect(run.blocked).toBe(true);
    expect(run.afterBlocked).toEqual([]);
    expect(run.final).toBeUndefined();
    expect(guard.push(`${raw} more clean text`)).toBeUndefined();
  });

  it('does not block on a word that only begins like a block-level term needing a word boundary', () => {
    const strict = compileLexicon([{ term: 'ass', level: 3, category: 'profanity' }]);
    const make = guardFactory(strict);
    const clean = 'I will assist you with the assessment of the class today.';
    const run = streamThrough(make(), perChar(clean));
    expect(run.blocked).toBe(false);
    expect(run.final).toBe(clean);
    const dirty = 'what an ass. really';
    const blockedRun = streamThrough(make(), perChar(dirty));
    expect(blockedRun.blocked).toBe(true);
    for (const shown of blockedRun.snapshots) expect(shown).not.toContain('as');
  });

  it('never cuts a word of a space-separated script where a term needing a word boundary would match', () => {
    // Cyrillic 'сор' folds to the term 'cop'; inside 'сорт' it must not match, so the cut may not fall after 'сор'.
    const lexicon = compileLexicon([{ term: 'cop', level: 2, category: 'test' }]);
    const cyrillicPorts: StreamGuardPorts = { ...lexiconStreamScreen(lexicon), maskPii: maskPiiPort };
    const raw = 'это сорт хорошего чая';
    const guard = createStreamGuard(cyrillicPorts, { holdBackChars: raw.length - 'это сор'.length });
    expect(guard.push(raw)).toBe('это ');
    expect(guard.complete(raw)).toBe(raw);
    expect(guardFactory(lexicon)().complete('это сор, да')).toBe('это ***, да');
  });

  it('never shows a decomposed accented term before its combining mark arrives', () => {
    const raw = 'we met at a cafe\u0301 au lait place, then went home for the night';
    const run = streamThrough(newGuard(), perChar(raw));
    const final = finalReply(raw)!;
    expect(final).toContain('at a ***** au');
    for (const shown of run.snapshots) expect(final.startsWith(shown)).toBe(true);
  });

  it('never cuts inside a surrogate pair or a zero-width-joiner sequence', () => {
    const raw = '好的👍 thanks 👨\u200D👩\u200D👧 family, see you soon everyone, bye for now';
    const units = raw.split('');
    const run = streamThrough(newGuard(), units);
    for (const shown of run.snapshots) {
      expect(raw.startsWith(shown)).toBe(true);
      const last = shown.charCodeAt(shown.length - 1);
      expect(last >= 0xd800 && last <= 0xdbff).toBe(false);
      expect(last).not.toBe(0x200d);
      expect(raw.charCodeAt(shown.length)).not.toBe(0x200d);
    }
    expect(run.final).toBe(raw);
  });

  it('fails closed when the screen blocks the part it is about to show', () => {
    // A port that blocks odd-length texts: the settled text (8 units) passes, the cut before the pending tail does not.
    const ports: StreamGuardPorts = {
      screen: (text) => ({ decision: text.length % 2 === 1 ? 'block' : 'allow', text, spans: [] }),
      lexiconTail: (text) => ({ settledEnd: text.length, pendingFrom: 5, noCut: [] }),
      maskPii: maskPiiPort,
    };
    const guard = createStreamGuard(ports, { holdBackChars: 0 });
    expect(guard.push('aaaa bbbb')).toBeUndefined();
    expect(guard.blocked).toBe(true);
  });
});

describe('createStreamGuard: PII', () => {
  it('never shows a phone number that arrives one digit per delta', () => {
    const raw = '请拨打 138 1234 5678 联系我，或者 +86-139-1234-5678 也可以，谢谢大家的支持';
    const run = streamThrough(newGuard(), perChar(raw));
    expect(run.snapshots.length).toBeGreaterThan(5);
    for (const shown of run.snapshots) expect(shown).not.toMatch(/\d/);
    expect(run.final).toBe('请拨打 [手机号] 联系我，或者 [手机号] 也可以，谢谢大家的支持');
  });

  it('keeps an open run at the end back until it ends', () => {
    const guard = newGuard();
    const shown = guard.push('The report is ready for review, call 138 1234');
    expect(shown).toBeDefined();
    expect(shown).not.toMatch(/\d/);
    expect(guard.push('The report is ready for review, call 138 1234 5678 today please ok')).not.toMatch(/\d/);
  });
});

describe('createStreamGuard: bad options', () => {
  it.each([-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('refuses holdBackChars %p', (holdBackChars) => {
    expect(() => createStreamGuard(ports, { holdBackChars })).toThrow(ConfigError);
  });
});

describe('holdBackFor', () => {
  it('is the longest term as written, for terms, entries or a compiled lexicon', () => {
    expect(holdBackFor(['ab', 'leak plan', 'Ｂ.Ａ.Ｄ'])).toBe(9);
    expect(holdBackFor(ENTRIES)).toBe(9);
    expect(holdBackFor(LEXICON)).toBe(9);
  });

  it('is at least 1, so the last character (which may still gain a mark) is never shown early', () => {
    expect(holdBackFor([])).toBe(1);
    expect(holdBackFor(compileLexicon([]))).toBe(1);
  });
});

describe('findPiiRuns', () => {
  it.each([
    ['call 138 1234 5678 now', ['call', '138 1234 5678', 'now'], 19],
    ['(+86) 138-1234-5678，ok', ['(+86) 138-1234-5678', 'ok'], 20],
    ['tel 138。5678.ok', ['tel', '138。5678.ok'], 4],
    ['tel １３８　１２３４', ['tel', '１３８　１２３４'], 4],
    ['mail a.b@x.com, ok ', ['mail', 'a.b@x.com', 'ok'], 19],
    ['no 7 ', ['no', '7 '], 3],
  ])('%p', (text, runs, openFrom) => {
    const found = findPiiRuns(text);
    expect(found.runs.map((r) => text.slice(r.start, r.end))).toEqual(runs);
    expect(found.openFrom).toBe(openFrom);
  });
});
